"""The UserInfo endpoint (OpenID Connect Core §5.3): claims by granted scope."""

from __future__ import annotations

from typing import Any

from ostiary.users.models import User


def userinfo_claims(user: User, scopes: set[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": str(user.id)}
    if "profile" in scopes:
        name = " ".join(p for p in (user.first_name, user.last_name) if p) or None
        claims |= {
            "name": name,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "preferred_username": user.username,
            "locale": user.language,
        }
    if "email" in scopes and user.email:
        # Addresses are not yet proven by a confirmation message.
        claims |= {"email": user.email, "email_verified": False}
    if "phone" in scopes and user.phone:
        claims |= {"phone_number": user.phone, "phone_number_verified": False}
    return {k: v for k, v in claims.items() if v is not None}
