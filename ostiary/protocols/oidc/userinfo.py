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
    claims |= email_claims(user, scopes)
    if "phone" in scopes and user.phone:
        claims |= {"phone_number": user.phone, "phone_number_verified": False}
    return {k: v for k, v in claims.items() if v is not None}


def email_claims(user: User, scopes: set[str] | list[str]) -> dict[str, Any]:
    """``email`` and ``email_verified`` (scope ``email``): whether the address was proven to
    be the user's, or vouched for by the CRM (``User.email_verified``)."""
    if "email" not in scopes or not user.email:
        return {}
    return {"email": user.email, "email_verified": user.email_verified}
