"""OAuth 2.0 errors (RFC 6749 §4.1.2.1, §5.2) and where they are shown."""

from __future__ import annotations


class OAuthError(Exception):
    """An error answered to the client: at the token endpoint as JSON, at the authorization
    endpoint by redirect or on an error page (when the redirect URI is not trusted)."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


class UntrustedRequest(OAuthError):
    """The client or redirect URI cannot be trusted: never redirect, show an error page."""
