"""The sections of the account pages, for the navigation that every one of them shows."""

from __future__ import annotations

# (key, path, label); the label is translated by the page.
SECTIONS = (
    ("profile", "/account", "Your profile"),
    ("security", "/account/security", "Sign-in and security"),
    ("password", "/account/password", "Password"),
    ("sessions", "/account/sessions", "Sessions"),
    ("applications", "/account/applications", "Connected applications"),
    ("organizations", "/account/organizations", "Organizations"),
)
