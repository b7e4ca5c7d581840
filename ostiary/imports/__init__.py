"""Bulk import of users from CSV files."""
