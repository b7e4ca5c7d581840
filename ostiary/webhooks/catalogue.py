"""Which audit actions become webhook events, and under which event type."""

from __future__ import annotations

# Audit action -> event type. Refusals are never events.
EVENT_TYPES: dict[str, str] = {
    "user.created": "user.created",
    "user.updated": "user.updated",
    "user.activated": "user.activated",
    "user.deactivated": "user.deactivated",
    "user.deleted": "user.deleted",
    "membership.added": "user.joined_context",
    "membership.removed": "user.left_context",
    "invitation.created": "user.invited",
    "user.registered": "user.registered",
    "registration.submitted": "organization.registered",
    "registration.approved": "organization.approved",
    "registration.rejected": "organization.rejected",
    "context.suspended": "organization.suspended",
    "context.reactivated": "organization.reactivated",
    "contract.created": "contract.created",
    "contract.updated": "contract.updated",
    "contract.deleted": "contract.deleted",
}

# Sent only on request, to try a subscription out.
PING = "webhook.ping"

ALL_TYPES: frozenset[str] = frozenset(EVENT_TYPES.values())


def event_type(action: str) -> str | None:
    return EVENT_TYPES.get(action)
