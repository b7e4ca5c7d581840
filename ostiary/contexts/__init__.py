"""Contexts: the organizational units (root > tenant > account > customer)."""
