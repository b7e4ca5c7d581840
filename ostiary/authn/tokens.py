"""Single-use secret links: only a hash is stored, and using one consumes it exactly once."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update

from ostiary.authn.models import OneTimeToken
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OneTimeTokens:
    def __init__(self, session: OstiarySession) -> None:
        self.session = session

    def issue(self, purpose: str, user_id: uuid.UUID | None, lifetime: timedelta) -> str:
        """A new token; earlier unused tokens of the same purpose and user stop working."""
        if user_id is not None:
            self.session.execute(
                delete(OneTimeToken).where(
                    OneTimeToken.purpose == purpose,
                    OneTimeToken.user_id == user_id,
                    OneTimeToken.used_at.is_(None),
                )
            )
        token, _ = self.create(purpose, lifetime, user_id=user_id)
        return token

    def create(
        self, purpose: str, lifetime: timedelta, *, user_id: uuid.UUID | None = None
    ) -> tuple[str, OneTimeToken]:
        """A new token and its row, leaving other tokens alone (links that belong to
        something else than a user, such as an invitation)."""
        token = secrets.token_urlsafe(32)
        row = OneTimeToken(
            purpose=purpose,
            token_hash=_hash(token),
            user_id=user_id,
            expires_at=utcnow() + lifetime,
        )
        self.session.add(row)
        return token, row

    def find(self, purpose: str, token: str) -> OneTimeToken | None:
        """The token whether live, used or expired, to tell a visitor which it is."""
        return self.session.scalars(
            select(OneTimeToken).where(
                OneTimeToken.purpose == purpose, OneTimeToken.token_hash == _hash(token)
            )
        ).one_or_none()

    def peek(self, purpose: str, token: str) -> OneTimeToken | None:
        """The live token, without consuming it."""
        return self.session.scalars(
            select(OneTimeToken).where(
                OneTimeToken.purpose == purpose,
                OneTimeToken.token_hash == _hash(token),
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > utcnow(),
            )
        ).one_or_none()

    def consume(self, purpose: str, token: str) -> OneTimeToken | None:
        """Mark the token used; of concurrent attempts exactly one gets it."""
        now = utcnow()
        result = self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.purpose == purpose,
                OneTimeToken.token_hash == _hash(token),
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return self.session.scalars(
            select(OneTimeToken).where(OneTimeToken.token_hash == _hash(token))
        ).one()

    def consume_id(self, token_id: uuid.UUID) -> None:
        """Mark a token used that served its purpose another way (a code sent with the link)."""
        self.session.execute(
            update(OneTimeToken)
            .where(OneTimeToken.id == token_id, OneTimeToken.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
