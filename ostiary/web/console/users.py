"""``/console/users``: the users within the caller's reach, one user's page, their lifecycle,
groups and effective rights; the same services and the same checks as ``/api/v1/users``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from ostiary.access.catalogue import OSTIARY_MODULE, Right
from ostiary.access.groups import GroupService
from ostiary.access.guard import GrantGuard
from ostiary.access.models import Module
from ostiary.api.pagination import decode_cursor, encode_cursor
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.api.v1.users import visible_user
from ostiary.errors import NotFound
from ostiary.text import Text
from ostiary.users.lifecycle import LifecycleAction, allowed_actions
from ostiary.users.memberships import MembershipService
from ostiary.users.models import User, UserStatus
from ostiary.users.search import UserQuery, search_page
from ostiary.users.services import UserService
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
STATUSES = [str(s) for s in UserStatus]


def _service(console: ConsoleSession, runtime: RuntimeDep) -> UserService:
    return UserService(console.caller.session, console.caller.actor, runtime.passwords)


def _user(console: ConsoleSession, runtime: RuntimeDep, right: str, user_id: str) -> User:
    """The user if the caller's ``right`` reaches them; else "not found", audited."""
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        raise NotFound(Text("no user with id '{user_id}'", user_id=user_id), field="id") from None
    return visible_user(console.caller, _service(console, runtime), console.scope(right), parsed)


@router.get("/console/users")
def list_users(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    q: str = "",
    status: str = "",
    group: str = "",
    cursor: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.USERS_READ)
        groups = GroupService(session, console.caller.actor).list(console.context)
        group_id = next((g.id for g in groups if str(g.id) == group), None)
        page = search_page(
            session,
            UserQuery(
                text=q or None,
                status=UserStatus(status) if status in STATUSES else None,
                group_id=group_id,
                visible_paths=scope.visible_paths,
                after=decode_cursor(cursor) if cursor else None,
                limit=PAGE_SIZE,
            ),
        )
        next_cursor = encode_cursor(page.next_after) if page.next_after is not None else None
        context = {
            "active": "users",
            "page": page,
            "next_cursor": next_cursor,
            "filters": {"q": q, "status": status, "group": group},
            "statuses": STATUSES,
            "groups": groups,
        }
        template = "users_rows.html" if request.headers.get("hx-request") else "users.html"
        return render(request, runtime, console, template, **context)

    return console_page(request, runtime, session, work)


def _detail(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    user: User,
    module: str = OSTIARY_MODULE,
    where: str = "",
    *,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    session = console.caller.session
    memberships = MembershipService(session, console.caller.actor).list(user)
    here = any(c.id == console.context.id for _, c in memberships)
    groups = GroupService(session, console.caller.actor).list(console.context) if here else []
    member_of = {g.id for g in groups if any(m.user_id == user.id for m in g.members)}
    module_keys = list(session.scalars(select(Module.key).order_by(Module.key)))
    chosen = module if module in module_keys else OSTIARY_MODULE
    # Effective rights in any of the user's contexts in reach (``?context=``, as at the API);
    # the current context when the user belongs to it.
    reach = console.scope(Right.USERS_READ)
    places = [c for _, c in memberships if reach.covers(c)]
    place = next((c for c in places if str(c.id) == where), None) or next(
        (c for c in places if c.id == console.context.id), places[0] if places else None
    )
    rights = runtime.rights.effective(session, user, place, chosen) if place else None
    lifecycle = console.may(Right.USERS_LIFECYCLE)
    context = {
        "active": "users",
        "user": user,
        "memberships": [c for _, c in memberships],
        "actions": [str(a) for a in allowed_actions(UserStatus(user.status))] if lifecycle else [],
        "groups": groups,
        "member_of": member_of,
        "may_assign": here and console.may(Right.GROUPS_MANAGE),
        "modules": module_keys,
        "module": chosen,
        "rights": rights,
        "places": places,
        "place": place,
        "notice": notice,
    }
    return render(request, runtime, console, "user.html", status=status, **context)


@router.get("/console/users/{user_id}")
def show_user(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    user_id: str,
    module: str = OSTIARY_MODULE,
    context: str = "",
    done: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        user = _user(console, runtime, Right.USERS_READ, user_id)
        return _detail(request, runtime, console, user, module, context, notice=done or None)

    return console_page(request, runtime, session, work)


@router.get("/console/users/{user_id}/delete")
def confirm_delete(
    request: Request, runtime: RuntimeDep, session: SessionDep, user_id: str
) -> Response:
    """What deleting means, before it is done."""

    def work(console: ConsoleSession) -> Response:
        user = _user(console, runtime, Right.USERS_LIFECYCLE, user_id)
        return render(request, runtime, console, "user_delete.html", active="users", user=user)

    return console_page(request, runtime, session, work)


@router.post("/console/users/{user_id}/groups")
def assign_groups(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    user_id: str,
    csrf: Annotated[str, Form()] = "",
    groups: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The user's groups in the current context become those ticked; each added one passes
    the grant guard (nobody grants what they do not hold)."""

    def work(console: ConsoleSession) -> Response:
        user = _user(console, runtime, Right.USERS_READ, user_id)
        scope = console.scope(Right.GROUPS_MANAGE)
        scope.require(console.context)
        service = GroupService(session, console.caller.actor)
        guard = GrantGuard(session, runtime.rights, console.user, scope)
        wanted = set(groups or [])
        with session.atomic():
            for group in service.list(console.context):
                if str(group.id) in wanted:
                    service.add_member(group, console.context, user, guard)
                else:
                    service.remove_member(group, user)
        return redirect(f"/console/users/{user_id}?done=groups")

    return console_page(request, runtime, session, work, csrf=csrf)


# Last: the action in the path must not shadow the routes above.
@router.post("/console/users/{user_id}/{action}")
def lifecycle(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    user_id: str,
    action: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        user = _user(console, runtime, Right.USERS_LIFECYCLE, user_id)
        try:
            chosen = LifecycleAction(action)
        except ValueError:
            raise NotFound(Text("no action '{action}'", action=action)) from None
        if _service(console, runtime).act(user, chosen) is None:
            return redirect("/console/users")
        return redirect(f"/console/users/{user_id}?done={chosen}")

    return console_page(request, runtime, session, work, csrf=csrf)
