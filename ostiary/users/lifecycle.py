"""The user lifecycle: draft (may be discarded) -> active <-> inactive -> deleted."""

from __future__ import annotations

import enum

from ostiary.errors import InvalidTransition
from ostiary.text import Text
from ostiary.users.models import UserStatus


class LifecycleAction(enum.StrEnum):
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    DELETE = "delete"
    DISCARD = "discard"


# The status each action leads to from each status; None means the user is removed for good.
TRANSITIONS: dict[tuple[UserStatus, LifecycleAction], UserStatus | None] = {
    (UserStatus.DRAFT, LifecycleAction.ACTIVATE): UserStatus.ACTIVE,
    (UserStatus.DRAFT, LifecycleAction.DISCARD): None,
    (UserStatus.ACTIVE, LifecycleAction.DEACTIVATE): UserStatus.INACTIVE,
    (UserStatus.INACTIVE, LifecycleAction.ACTIVATE): UserStatus.ACTIVE,
    (UserStatus.INACTIVE, LifecycleAction.DELETE): UserStatus.DELETED,
}


def allowed_actions(status: UserStatus) -> list[LifecycleAction]:
    return [action for (source, action) in TRANSITIONS if source is status]


def next_status(status: UserStatus, action: LifecycleAction) -> UserStatus | None:
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        allowed = ", ".join(allowed_actions(status)) or "none"
        raise InvalidTransition(
            Text(
                "cannot {action} a user who is {status} (allowed: {allowed})",
                action=action,
                status=status,
                allowed=allowed,
            ),
            field="status",
        ) from None
