"""Checking a username (or e-mail) and password at the login page."""

from __future__ import annotations

from sqlalchemy import or_, select

from ostiary.audit.actor import Actor
from ostiary.authn.basic import rehash
from ostiary.authn.passwords import Passwords
from ostiary.authn.throttle import PASSWORD, Attempt, Throttle, account_key, address_key
from ostiary.db.session import OstiarySession
from ostiary.users.models import DomainKind, User, UserStatus

# The same words whatever went wrong, so that the page does not tell whether an account exists.
LOGIN_FAILED = "The username or password is not correct."


class PasswordLogin:
    def __init__(
        self,
        session: OstiarySession,
        passwords: Passwords,
        decoy_hash: str,
        *,
        throttle: Throttle | None = None,
        address: str | None = None,
    ) -> None:
        self.session = session
        self.passwords = passwords
        self.decoy_hash = decoy_hash
        self.throttle = throttle
        self.address = address
        self._unsettled: Attempt | None = None

    def verify(self, identifier: str, password: str) -> User | None:
        """The user when the password is right and they may sign in, else None.

        An unknown identifier still costs one hash, so that timing does not tell either. With
        a throttle the attempt is counted for the account (or the unknown name) and the client
        address before the hash is verified, and ``Throttled`` is raised, unverified, while
        either must wait; the counts are committed at once, so call this outside a
        transaction of your own. A success is left for ``settle`` to take back.
        """
        key = identifier.strip().casefold()
        user = (
            self.session.scalars(
                select(User).where(or_(User.username == key, User.email_key == key))
            ).first()
            if key
            else None
        )
        attempt = self._attempt(user, key)
        if attempt is not None:
            attempt.begin()
        if user is None or not user.password_hash or user.service_account:
            # Service accounts never sign in (they have no password anyway).
            self.passwords.verify(self.decoy_hash, password)
            return self._failed(attempt)
        if not self.passwords.verify(user.password_hash, password):
            return self._failed(attempt)
        if user.status != UserStatus.ACTIVE or user.domain.kind != DomainKind.LOCAL:
            return self._failed(attempt)
        self._unsettled = attempt
        if self.passwords.needs_rehash(user.password_hash):
            with self.session.atomic():
                old = user.password_hash
                rehash(self.session, user.id, old, self.passwords.hash(password))
            self.session.refresh(user)
        return user

    def settle(self) -> None:
        """Settle the throttle's count of the right password that ``verify`` accepted, in the
        caller's transaction (the sign-in it leads to): the account's streak ends and the
        client address's attempt is taken back.

        Call it last before that transaction commits. The address's row stays locked from here
        to the commit, and every login from that address counts its attempt on that row: all
        the people of a company behind one NAT would otherwise sign in one after another.
        """
        if self._unsettled is not None:
            self._unsettled.succeeded(commit=False)
            self._unsettled = None

    def _attempt(self, user: User | None, key: str) -> Attempt | None:
        if self.throttle is None:
            return None
        account = account_key(user.id) if user else self.throttle.name_key(key)
        actor = Actor(user.username if user else "(unknown user)", "web", None, self.address)
        return Attempt(self.throttle, PASSWORD, account, address_key(self.address), actor)

    @staticmethod
    def _failed(attempt: Attempt | None) -> None:
        if attempt is not None:
            attempt.failed()
        return None
