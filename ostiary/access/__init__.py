"""Modules and their access rights (ACLs), templates, user groups, policies, effective rights."""
