"""What every admin API route needs: a session, the authenticated caller, their scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from ostiary.access.admin import AdminAuthorizer, AdminScope
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.bearer import authenticate_bearer
from ostiary.db.session import OstiarySession
from ostiary.errors import OstiaryError, Unauthenticated
from ostiary.runtime import Runtime
from ostiary.users.models import User

basic_scheme = HTTPBasic(
    auto_error=False, realm="ostiary", description="An API user's username and password"
)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[OstiarySession]:
    with runtime.sessions() as session:
        try:
            yield session
        except OstiaryError as exc:
            if exc.refusal is not None:
                # Whatever the request did is undone; the refusal itself is kept.
                session.rollback()
                with session.atomic():
                    AuditLog(session).record_refusal(exc.refusal)
            raise


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[OstiarySession, Depends(get_session)]


@dataclass(frozen=True)
class Caller:
    user: User
    actor: Actor
    address: str | None
    authorizer: AdminAuthorizer

    def scope(self, right: str) -> AdminScope:
        return self.authorizer.require(self.user, right, self.actor)


def get_caller(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
) -> Caller:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = authenticate_bearer(session, runtime, token.strip())
    elif credentials is not None:
        user = runtime.basic.authenticate(session, credentials.username, credentials.password)
    else:
        raise Unauthenticated("this API needs HTTP Basic credentials or a bearer access token")
    address = request.client.host if request.client else None
    actor = Actor(label=user.username, via="api", user_id=user.id, client_address=address)
    return Caller(user, actor, address, AdminAuthorizer(session, runtime.rights))


CallerDep = Annotated[Caller, Depends(get_caller)]


def scope_for(right: str) -> Callable[[Caller], AdminScope]:
    def dependency(caller: CallerDep) -> AdminScope:
        return caller.scope(right)

    return dependency
