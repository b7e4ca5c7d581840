"""What every admin API route needs: a session, the authenticated caller, their scope.

Each sync dependency costs a hop to the thread pool (a few hundred microseconds of a request
that should take about a millisecond), so only signing the caller in touches the database;
the other dependencies run on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from ostiary.access.admin import AdminScope, Standing, require
from ostiary.access.subjects import ContextRef, RightsHolder, UserRef, contexts_of
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.bearer import authenticate_bearer
from ostiary.db.session import OstiarySession
from ostiary.errors import OstiaryError, Refusal, Unauthenticated
from ostiary.runtime import Runtime
from ostiary.users.models import User

basic_scheme = HTTPBasic(
    auto_error=False, realm="ostiary", description="An API user's username and password"
)
# Requests that only read take no write lock on SQLite (see ``ostiary.db.engine``).
READING_METHODS = frozenset({"GET", "HEAD"})


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(request: Request, runtime: RuntimeDep) -> AsyncIterator[OstiarySession]:
    reading = request.method in READING_METHODS
    session = runtime.read_sessions() if reading else runtime.sessions()
    try:
        yield session
    except OstiaryError as exc:
        if exc.refusal is not None:
            await run_in_threadpool(_keep_refusal, session, exc.refusal)
        raise
    finally:
        if runtime.engine.dialect.name == "sqlite":
            # Ending a SQLite transaction is a call into the library, not a network round
            # trip: not worth a hop to the thread pool.
            session.close()
        else:
            await run_in_threadpool(session.close)


def _keep_refusal(session: OstiarySession, refusal: Refusal) -> None:
    # Whatever the request did is undone; the refusal itself is kept.
    session.rollback()
    with session.atomic():
        AuditLog(session).record_refusal(refusal)


SessionDep = Annotated[OstiarySession, Depends(get_session)]


class Caller:
    """The signed-in API user, with their standing read once for the request."""

    def __init__(
        self,
        session: OstiarySession,
        identity: UserRef,
        actor: Actor,
        address: str | None,
        standing: Standing,
    ) -> None:
        self.session = session
        self.identity = identity
        self.actor = actor
        self.address = address
        self.standing = standing
        self._user: User | None = None

    @property
    def user(self) -> User:
        """The caller's row, loaded when a route needs more than their identity."""
        if self._user is None:
            user = self.session.get(User, self.identity.id)
            if user is None:
                raise Unauthenticated("the signed-in user no longer exists")
            self._user = user
        return self._user

    def scope(self, right: str) -> AdminScope:
        """Where the caller may use ``right``; refused when nowhere."""
        return require(self.standing.scope(right, self.actor))

    def memberships_of(self, user: RightsHolder) -> Sequence[ContextRef]:
        """A user's contexts in tree order, to decide whether they are in the caller's reach."""
        return contexts_of(self.session.core(), user.id)


def get_caller(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
) -> Caller:
    """The caller, authenticated, with their standing; before the body is validated, so that
    a caller without credentials learns nothing about what the route expects."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = authenticate_bearer(session, runtime, token.strip())
        identity = UserRef(user.id, user.username, user.status, user.delegated)
    elif credentials is not None:
        identity = runtime.basic.authenticate(session, credentials.username, credentials.password)
    else:
        raise Unauthenticated("this API needs HTTP Basic credentials or a bearer access token")
    address = request.client.host if request.client else None
    actor = Actor(label=identity.username, via="api", user_id=identity.id, client_address=address)
    return Caller(session, identity, actor, address, runtime.standings.of(session, identity))


CallerDep = Annotated[Caller, Depends(get_caller)]


def scope_for(right: str) -> Callable[[Caller], Awaitable[AdminScope]]:
    # No I/O: the standing was read by ``get_caller``.
    async def dependency(caller: CallerDep) -> AdminScope:
        return caller.scope(right)

    return dependency
