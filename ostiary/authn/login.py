"""Checking a username (or e-mail) and password at the login page."""

from __future__ import annotations

from sqlalchemy import or_, select

from ostiary.authn.passwords import Passwords
from ostiary.db.session import OstiarySession
from ostiary.users.models import DomainKind, User, UserStatus

# The same words whatever went wrong, so that the page does not tell whether an account exists.
LOGIN_FAILED = "The username or password is not correct."


class PasswordLogin:
    def __init__(self, session: OstiarySession, passwords: Passwords, decoy_hash: str) -> None:
        self.session = session
        self.passwords = passwords
        self.decoy_hash = decoy_hash

    def verify(self, identifier: str, password: str) -> User | None:
        """The user when the password is right and they may sign in, else None.

        An unknown identifier still costs one hash, so that timing does not tell either.
        """
        key = identifier.strip().casefold()
        user = (
            self.session.scalars(
                select(User).where(or_(User.username == key, User.email_key == key))
            ).first()
            if key
            else None
        )
        if user is None or not user.password_hash or user.service_account:
            # Service accounts never sign in (they have no password anyway).
            self.passwords.verify(self.decoy_hash, password)
            return None
        if not self.passwords.verify(user.password_hash, password):
            return None
        if user.status != UserStatus.ACTIVE or user.domain.kind != DomainKind.LOCAL:
            return None
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(password)
        return user
