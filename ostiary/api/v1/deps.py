"""What every admin API route needs: a session, the authenticated caller, their scope.

Each sync dependency or endpoint costs a hop to the thread pool and back, a few hundred
microseconds of CPU and more under load, against about a millisecond for a whole warm request.
So the dependencies are ``async``: they do no I/O, or only a few indexed statements that cost
less than the hop (a warm sign-in, ending the transaction), and hand anything slow to the
thread pool themselves. Routes stay sync and run their work in one hop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, TypeVar

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
# Requests that only read take no write lock on SQLite and run in autocommit on PostgreSQL
# (see ``ostiary.db.engine.reading_engine``).
READING_METHODS = frozenset({"GET", "HEAD"})
_READS_ONLY = "__ostiary_reads_only__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., object])


def reads_only(endpoint: Endpoint) -> Endpoint:
    """Mark a route that only reads although its method is POST (questions too long for a
    query string, such as authorization checks): it gets a reading session, which it shares
    with signing in. A refusal's audit event is still written."""
    setattr(endpoint, _READS_ONLY, True)
    return endpoint


def _reading(request: Request) -> bool:
    return request.method in READING_METHODS or getattr(
        request.scope.get("endpoint"), _READS_ONLY, False
    )


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(request: Request, runtime: RuntimeDep) -> AsyncIterator[OstiarySession]:
    session = runtime.read_sessions() if _reading(request) else runtime.sessions()
    try:
        yield session
    except OstiaryError as exc:
        if exc.refusal is not None:
            await run_in_threadpool(keep_refusal, session, exc.refusal)
        raise
    finally:
        # Ending the transaction is a call into SQLite or one round trip to PostgreSQL: less
        # than a hop to the thread pool and back costs.
        session.close()


def keep_refusal(session: OstiarySession, refusal: Refusal) -> None:
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
        *,
        api_call: bool = True,
    ) -> None:
        self.session = session
        self.identity = identity
        self.actor = actor
        self.address = address
        self.standing = standing
        # False for the console's pages: API IP Allow governs API calls only.
        self.api_call = api_call
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
        return require(self.standing.scope(right, self.actor, api_call=self.api_call))

    def memberships_of(self, user: RightsHolder) -> Sequence[ContextRef]:
        """A user's contexts in tree order, to decide whether they are in the caller's reach."""
        return contexts_of(self.session.core(), user.id)


async def get_caller(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
) -> Caller:
    """The caller, authenticated, with their standing; before the body is validated, so that
    a caller without credentials learns nothing about what the route expects.

    A warm sign-in (a password verified lately, a standing still valid) is one indexed
    statement with HTTP Basic (the credentials and the counters that the standing depends on,
    read together) and runs here on the event loop; verifying a password with argon2, a bearer
    token's signature or computing a standing afresh goes to the thread pool.
    """
    # Signing in only reads (but for counting failures, which it does in the thread pool):
    # a request that writes signs in through a reading session of its own, so that its own
    # session takes the write lock in its route, never here on the event loop.
    reading = session if _reading(request) else runtime.read_sessions()
    try:
        identity, standing = await _sign_in(request, runtime, reading, credentials)
    finally:
        if reading is not session:
            reading.close()
    address = request.client.host if request.client else None
    actor = Actor(label=identity.username, via="api", user_id=identity.id, client_address=address)
    return Caller(session, identity, actor, address, standing)


async def _sign_in(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    credentials: HTTPBasicCredentials | None,
) -> tuple[UserRef, Standing]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    roles: Sequence[str] = ()
    if scheme.lower() == "bearer" and token.strip():
        identity, roles = await run_in_threadpool(_bearer_identity, session, runtime, token.strip())
    elif credentials is not None:
        basic = runtime.basic
        known = basic.known_id(credentials.username)
        watched = runtime.standings.watched(known) if known is not None else ()
        found, counters = basic.lookup_watching(session, credentials.username, watched)
        identity = basic.remembered(found, credentials.password) or await run_in_threadpool(
            basic.verify_counted,
            session,
            runtime.settings,
            found,
            credentials.username,
            credentials.password,
            request.client.host if request.client else None,
        )
        if watched and identity.id == known:
            standing = runtime.standings.current(identity, watched, counters)
            if standing is not None:
                return identity, standing
    else:
        raise Unauthenticated("this API needs HTTP Basic credentials or a bearer access token")
    standing = runtime.standings.cached(session, identity, roles) or await run_in_threadpool(
        runtime.standings.compute, session, identity, roles
    )
    return identity, standing


def _bearer_identity(
    session: OstiarySession, runtime: Runtime, token: str
) -> tuple[UserRef, Sequence[str]]:
    """The token's user, and the external role names of the login it stands on."""
    found = authenticate_bearer(session, runtime, token)
    user = found.user
    return UserRef(user.id, user.username, user.status, user.delegated), found.external_roles


CallerDep = Annotated[Caller, Depends(get_caller)]


def scope_for(right: str) -> Callable[[Caller], Awaitable[AdminScope]]:
    # No I/O: the standing was read by ``get_caller``.
    async def dependency(caller: CallerDep) -> AdminScope:
        return caller.scope(right)

    return dependency
