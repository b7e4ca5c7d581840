"""Branding of sign-in pages and messages: a context's or a client's name, logo, colours,
support link and texts."""
