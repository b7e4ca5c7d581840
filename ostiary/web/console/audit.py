"""``/console/audit``: the audit log of the caller's reach (``audit.read``), newest first, with
filters; the same query as ``/api/v1/audit-events``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ostiary.access.catalogue import Right
from ostiary.api.pagination import decode_id_cursor, next_cursor
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.audit.services import AuditLog, AuditQuery
from ostiary.web.console.pages import console_page, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
NOT_A_DATE = "Enter a date such as 2026-01-31."


def _day(value: str, field: str, errors: dict[str, str]) -> datetime | None:
    if not value.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), datetime.min.time(), UTC)
    except ValueError:
        errors[field] = NOT_A_DATE
        return None


@router.get("/console/audit")
def audit_log(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    action: str = "",
    target: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.AUDIT_READ)
        errors: dict[str, str] = {}
        first = _day(since, "since", errors)
        last = _day(until, "until", errors)
        filters = {"action": action, "target": target, "since": since, "until": until}
        events = []
        if not errors:
            events = AuditLog(session).search(
                AuditQuery(
                    action=action.strip() or None,
                    target_id=target.strip() or None,
                    since=first,
                    # The whole last day counts.
                    until=last + timedelta(days=1) if last is not None else None,
                    before_id=decode_id_cursor(cursor or None),
                    visible_paths=scope.visible_paths,
                    limit=PAGE_SIZE,
                )
            )
        return render(
            request,
            runtime,
            console,
            "audit.html",
            status=422 if errors else 200,
            active="audit",
            events=events,
            filters=filters,
            errors=errors,
            next_cursor=next_cursor(events, PAGE_SIZE, "id"),
        )

    return console_page(request, runtime, session, work)
