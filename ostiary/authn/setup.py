"""Becoming the first administrator through the one-time setup link."""

from __future__ import annotations

from ostiary.audit.actor import Actor
from ostiary.authn.tokens import OneTimeTokens
from ostiary.bootstrap import SETUP_PURPOSE
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput, NotFound
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.users.services import UserService

EXPIRED = "this setup link is used up or has expired; restart Ostiary for a new one"


class FirstAdminSetup:
    def __init__(
        self, runtime: Runtime, session: OstiarySession, client_address: str | None
    ) -> None:
        self.runtime = runtime
        self.session = session
        self.client_address = client_address
        self.tokens = OneTimeTokens(session)

    def user_for(self, token: str) -> User:
        found = self.tokens.peek(SETUP_PURPOSE, token)
        user = self.session.get(User, found.user_id) if found and found.user_id else None
        if user is None:
            raise NotFound(EXPIRED, field="token")
        return user

    def complete(self, token: str, password: str, confirmation: str) -> User:
        user = self.user_for(token)
        actor = Actor(user.username, "web", user.id, self.client_address)
        users = UserService(self.session, actor, self.runtime.passwords)
        problems = self.runtime.passwords.problems(
            password, field="password", username=user.username, email=user.email
        )
        if password != confirmation:
            problems.append(FieldProblem("confirmation", "does not match the password"))
        if problems:
            raise InvalidInput(problems)
        with self.session.atomic():
            if self.tokens.consume(SETUP_PURPOSE, token) is None:
                raise NotFound(EXPIRED, field="token")
            users.set_password(user, password)
        return user
