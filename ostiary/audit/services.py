"""Writing and reading audit events."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context
from ostiary.db.paths import within_paths
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.errors import Refusal

# Never written into an event, whatever the caller passes.
SECRET_FIELDS = frozenset({"password", "password_hash", "client_secret", "secret_hash", "token"})


def _scrub(changes: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key in SECRET_FIELDS:
            clean[key] = "(changed)"
        elif isinstance(value, Mapping):
            clean[key] = _scrub(value)
        else:
            clean[key] = value
    return clean


def event_row(
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: uuid.UUID | str | None,
    context_id: uuid.UUID | None = None,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of an audit event; ``record`` adds it to the session, bulk writes insert it."""
    return {
        "id": uuid7(),
        "occurred_at": utcnow(),
        "actor_id": actor.user_id,
        "actor": actor.label,
        "via": actor.via,
        "client_address": actor.client_address,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "context_id": context_id,
        "changes": _scrub(changes or {}),
    }


@dataclass(frozen=True)
class AuditQuery:
    actor_id: uuid.UUID | None = None
    target_id: str | None = None
    context_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: uuid.UUID | None = None
    # Subtrees the reader may see (events of contexts there); None means every event.
    visible_paths: Sequence[str] | None = None
    limit: int = 50


class AuditLog:
    def __init__(self, session: OstiarySession) -> None:
        self.session = session

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        target_type: str,
        target_id: uuid.UUID | str | None,
        context_id: uuid.UUID | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        event = AuditEvent(
            **event_row(
                actor,
                action,
                target_type=target_type,
                target_id=target_id,
                context_id=context_id,
                changes=changes,
            )
        )
        self.session.add(event)
        return event

    def record_refusal(self, refusal: Refusal) -> AuditEvent:
        return self.record(
            refusal.actor,
            refusal.action,
            target_type=refusal.target_type,
            target_id=refusal.target_id,
            context_id=refusal.context_id,
            changes={"refused": refusal.reason},
        )

    @staticmethod
    def is_refusal(event: AuditEvent) -> bool:
        """Whether ``event`` records an attempt that was refused (and so changed nothing)."""
        return event.changes.keys() == {"refused"}

    def search(self, query: AuditQuery) -> Sequence[AuditEvent]:
        """Newest first; ``before_id`` continues after the last event of a previous page."""
        stmt = select(AuditEvent)
        if query.actor_id is not None:
            stmt = stmt.where(AuditEvent.actor_id == query.actor_id)
        if query.target_id is not None:
            stmt = stmt.where(AuditEvent.target_id == query.target_id)
        if query.context_id is not None:
            stmt = stmt.where(AuditEvent.context_id == query.context_id)
        if query.action is not None:
            stmt = stmt.where(AuditEvent.action == query.action)
        if query.since is not None:
            stmt = stmt.where(AuditEvent.occurred_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(AuditEvent.occurred_at < query.until)
        if query.before_id is not None:
            stmt = stmt.where(AuditEvent.id < query.before_id)
        visible = within_paths(Context.path, query.visible_paths)
        if visible is not None:
            stmt = stmt.join(Context, Context.id == AuditEvent.context_id).where(visible)
        stmt = stmt.order_by(AuditEvent.id.desc()).limit(query.limit)
        return self.session.scalars(stmt).all()

    def forget_person(
        self,
        user_id: uuid.UUID,
        *,
        personal_fields: frozenset[str],
        former_labels: set[str],
        new_label: str,
        carriers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Remove a deleted user's personal data from the events about them or by them, and
        from those about the objects that carried it (``carriers``: ids by target type, such
        as the invitations to their address).

        Ids stay, so the trail still shows what happened to whom; values do not.
        """
        target_id = str(user_id)
        about = AuditEvent.target_id == target_id
        for target_type, ids in (carriers or {}).items():
            if ids:
                about = about | (
                    (AuditEvent.target_type == target_type) & AuditEvent.target_id.in_(ids)
                )
        events = self.session.scalars(
            select(AuditEvent).where(about | (AuditEvent.actor_id == user_id))
        ).all()
        carried = {target_type: set(ids) for target_type, ids in (carriers or {}).items()}
        for event in events:
            concerned = event.target_id == target_id or event.target_id in carried.get(
                event.target_type, ()
            )
            if concerned and personal_fields & event.changes.keys():
                event.changes = {
                    key: "(erased)" if key in personal_fields else value
                    for key, value in event.changes.items()
                }
            if concerned and event.actor in former_labels:
                # Done under their address before this account was theirs (a registrant, an
                # invitee setting it up, an earlier draft).
                event.actor = new_label
        self.session.execute(
            update(AuditEvent)
            .where(AuditEvent.actor_id == user_id, AuditEvent.actor.in_(former_labels))
            .values(actor=new_label)
        )
