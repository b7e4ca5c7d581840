"""Authentication: passwords, API credentials, one-time tokens."""
