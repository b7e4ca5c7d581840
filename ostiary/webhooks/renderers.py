"""The current public representation of an event's target, per target type.

Other packages register theirs (``register("contract", render_contract)``) where they define
the type, so that webhooks imports none of them. A renderer gets the session and the target's
id and returns the object as the admin API shows it, never a secret, or None when it is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ostiary.contexts.models import Context
from ostiary.contexts.schemas import ContextOut
from ostiary.users.models import User
from ostiary.users.schemas import UserOut

Renderer = Callable[[Session, str], dict[str, Any] | None]
# The ids (as events name them) of a type's objects that hold a person's data: given the
# person's id and the lower-cased e-mail address they had.
PersonalFinder = Callable[[Session, uuid.UUID, str | None], list[str]]

_RENDERERS: dict[str, Renderer] = {}
_PERSONAL: dict[str, PersonalFinder] = {}


def register(
    target_type: str, renderer: Renderer, *, personal: PersonalFinder | None = None
) -> None:
    """``personal``, for a type whose objects carry someone's data (an invitation keeps the
    invitee's address): the events about them are erased with the person."""
    _RENDERERS[target_type] = renderer
    if personal is not None:
        _PERSONAL[target_type] = personal


def about_person(
    session: Session, user_id: uuid.UUID, email_key: str | None
) -> dict[str, list[str]]:
    """Per target type, the objects that carry the person's data (the person themselves
    under ``user``)."""
    found = {"user": [str(user_id)]}
    for target_type, finder in _PERSONAL.items():
        ids = finder(session, user_id, email_key)
        if ids:
            found[target_type] = ids
    return found


def render(
    session: Session, target_type: str | None, target_id: str | None
) -> dict[str, Any] | None:
    renderer = _RENDERERS.get(target_type or "")
    if renderer is None or target_id is None:
        return None
    return renderer(session, target_id)


def target_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _user(session: Session, target_id: str) -> dict[str, Any] | None:
    user_id = target_uuid(target_id)
    user = session.get(User, user_id) if user_id else None
    return UserOut.of(user).model_dump(mode="json") if user else None


def _context(session: Session, target_id: str) -> dict[str, Any] | None:
    context_id = target_uuid(target_id)
    context = session.get(Context, context_id) if context_id else None
    return ContextOut.model_validate(context).model_dump(mode="json") if context else None


register("user", _user)
register("context", _context)
