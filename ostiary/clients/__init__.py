"""Registered applications: OAuth clients of a module."""
