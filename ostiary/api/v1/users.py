"""``/api/v1/users``"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.authn.factors.policy import check_setting
from ostiary.contexts.models import Context
from ostiary.contexts.services import ContextService
from ostiary.db.offload import run_database_block
from ostiary.errors import NotFound, RuleViolation
from ostiary.users.lifecycle import LifecycleAction
from ostiary.users.memberships import MembershipService
from ostiary.users.models import TwoFactor, User, UserStatus
from ostiary.users.reads import read_user
from ostiary.users.schemas import MembershipOut, PasswordSet, UserCreate, UserOut, UserUpdate
from ostiary.users.search import UserQuery, domain_id_by_name, search_page
from ostiary.users.services import UserService

router = APIRouter(prefix="/users", tags=["users"])
ReadScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_READ))]
ManageScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_MANAGE))]
LifecycleScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_LIFECYCLE))]


def visible_user(
    caller: CallerDep, service: UserService, scope: AdminScope, user_id: uuid.UUID
) -> User:
    user = service.get(user_id)
    if not scope.covers_user(caller.memberships_of(user)):
        raise scope.refuse("user", user.id, None)
    return user


def _context_in_scope(
    session: SessionDep, caller: CallerDep, scope: AdminScope, context_id: uuid.UUID, field: str
) -> Context:
    try:
        context = ContextService(session, caller.actor).get(context_id)
        scope.require(context, what="context")
    except NotFound as exc:
        raise RuleViolation(
            f"no context with id '{context_id}'", field=field, refusal=exc.refusal
        ) from None
    return context


async def _service(session: SessionDep, caller: CallerDep, runtime: RuntimeDep) -> UserService:
    return UserService(session, caller.actor, runtime.passwords)


Service = Annotated[UserService, Depends(_service)]


@router.get("", response_model=Page[UserOut], summary="Search users")
def search(
    session: SessionDep,
    scope: ReadScope,
    q: Annotated[
        str | None, Query(description="Start of username, e-mail, first or last name")
    ] = None,
    username: Annotated[str | None, Query(description="Start of the username")] = None,
    email: Annotated[str | None, Query(description="Start of the e-mail address")] = None,
    name: Annotated[str | None, Query(description="Start of the first or last name")] = None,
    status: UserStatus | None = None,
    domain: str | None = None,
    context: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[UserOut]:
    domain_id = None
    if domain is not None:
        domain_id = domain_id_by_name(session, domain)
        if domain_id is None:
            raise RuleViolation(f"no user domain named '{domain}'", field="domain")
    page = search_page(
        session,
        UserQuery(
            text=q,
            username=username,
            email=email,
            name=name,
            status=status,
            domain_id=domain_id,
            context_id=context,
            visible_paths=scope.visible_paths,
            after=decode_cursor(cursor),
            limit=limit,
        ),
    )
    next_page = encode_cursor(page.next_after) if page.next_after is not None else None
    return Page(items=[UserOut.of(u) for u in page.users], next_cursor=next_page)


@router.post(
    "", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Create a user"
)
def create(
    data: UserCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: ManageScope,
    service: Service,
) -> UserOut:
    contexts = [
        _context_in_scope(session, caller, scope, context_id, f"context_ids[{i}]")
        for i, context_id in enumerate(data.context_ids)
    ]
    if not contexts and not scope.unrestricted:
        raise RuleViolation("name at least one context for the new user", field="context_ids")
    if data.two_factor is not TwoFactor.INHERIT:
        # Overriding the instance's 2FA setting is a right of its own (document 003).
        two_factor = caller.scope(Right.USERS_TWO_FACTOR)
        if not contexts:
            two_factor.require_root("user")
        for context in contexts:
            two_factor.require(context)
        check_setting(data.two_factor, runtime.settings)
    return UserOut.of(service.create(data, contexts=contexts))


@router.get("/{user_id}", response_model=UserOut, summary="Read a user")
async def read(
    user_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep, scope: ReadScope
) -> Response:
    # A hot read: one statement, on the event loop on SQLite (``ostiary.db.offload``), and the
    # model serialized once, by pydantic, rather than validated again by the framework.
    def work() -> UserOut:
        reading = read_user(caller.session.core(), user_id)
        if reading is None:
            raise NotFound(f"no user with id '{user_id}'", field="id")
        if not scope.covers_user(reading.contexts):
            raise scope.refuse("user", user_id, None)
        return reading.user

    user = await run_database_block(runtime.engine, work)
    return Response(user.model_dump_json(), media_type="application/json")


@router.patch("/{user_id}", response_model=UserOut, summary="Change a user's profile")
def update(
    user_id: uuid.UUID,
    data: UserUpdate,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: ManageScope,
    service: Service,
) -> UserOut:
    user = visible_user(caller, service, scope, user_id)
    if "two_factor" in data.model_fields_set and data.two_factor is not None:
        # Overriding the instance's 2FA setting is a right of its own (document 003).
        visible_user(caller, service, caller.scope(Right.USERS_TWO_FACTOR), user_id)
        if data.two_factor is not TwoFactor.INHERIT:
            check_setting(data.two_factor, runtime.settings)
    return UserOut.of(service.update(user, data))


@router.put(
    "/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT, summary="Set a user's password"
)
def set_password(
    user_id: uuid.UUID, data: PasswordSet, caller: CallerDep, scope: ManageScope, service: Service
) -> Response:
    service.set_password(
        visible_user(caller, service, scope, user_id), data.password.get_secret_value()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _lifecycle(action: LifecycleAction, summary: str):  # type: ignore[no-untyped-def]
    def endpoint(
        user_id: uuid.UUID, caller: CallerDep, scope: LifecycleScope, service: Service
    ) -> Response:
        user = visible_user(caller, service, scope, user_id)
        result = service.act(user, action)
        if result is None:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        return Response(UserOut.of(result).model_dump_json(), media_type="application/json")

    router.add_api_route(
        f"/{{user_id}}/{action}",
        endpoint,
        methods=["POST"],
        summary=summary,
        response_model=UserOut,
        responses={204: {"description": "The draft user was discarded"}},
        name=f"user_{action}",
    )


_lifecycle(LifecycleAction.ACTIVATE, "Activate a draft or inactive user")
_lifecycle(LifecycleAction.DEACTIVATE, "Deactivate an active user (ends their access)")
_lifecycle(LifecycleAction.DELETE, "Delete an inactive user: anonymize for good")
_lifecycle(LifecycleAction.DISCARD, "Discard a draft user: remove it entirely")


@router.get(
    "/{user_id}/contexts", response_model=list[MembershipOut], summary="List a user's contexts"
)
def list_memberships(
    user_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: ReadScope, service: Service
) -> list[MembershipOut]:
    user = visible_user(caller, service, scope, user_id)
    return [
        MembershipOut(
            context_id=c.id,
            context_key=c.key,
            context_name=c.name,
            context_type=c.type,
            since=m.created_at,
        )  # type: ignore[arg-type]
        for m, c in MembershipService(session, caller.actor).list(user)
    ]


@router.put(
    "/{user_id}/contexts/{context_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Make the user a member of a context",
)
def add_membership(
    user_id: uuid.UUID,
    context_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    scope: ManageScope,
    service: Service,
) -> Response:
    user = visible_user(caller, service, scope, user_id)
    context = _context_in_scope(session, caller, scope, context_id, "context_id")
    MembershipService(session, caller.actor).add(user, context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{user_id}/contexts/{context_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the user's membership of a context",
)
def remove_membership(
    user_id: uuid.UUID,
    context_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    scope: ManageScope,
    service: Service,
) -> Response:
    user = visible_user(caller, service, scope, user_id)
    context = _context_in_scope(session, caller, scope, context_id, "context_id")
    if not MembershipService(session, caller.actor).remove(user, context):
        raise NotFound(f"the user is not a member of context '{context_id}'", field="context_id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
