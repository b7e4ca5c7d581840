"""Admin REST API, version 1."""
