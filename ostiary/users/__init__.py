"""Users, their user domains, memberships in contexts and lifecycle."""
