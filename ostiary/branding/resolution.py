"""Which branding a page or a message shows.

A login: the client of the authorization request (its own branding, else the nearest one of
its context and that context's ancestors below the root), else the context recognised from the
e-mail domain the user typed (the nearest branding of it and its ancestors), else the
instance's (the root context's). A message: the branding of the flow that caused it, else of
the context it is about, else of the recipient's contexts (the nearest branding above all of
them), else the instance's.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import String, cast, select

from ostiary.branding.colours import text_on
from ostiary.branding.models import Branding
from ostiary.clients.models import Client
from ostiary.contexts.models import Context, ContextStatus, ContextType
from ostiary.db.changes import TABLE_TOPICS
from ostiary.db.session import OstiarySession
from ostiary.users.models import Membership, User

V = TypeVar("V")

FALLBACK_LANGUAGE = "en"
TEXT_KEYS = ("login_title", "welcome", "footer")


class ChosenBy(enum.StrEnum):
    CLIENT = "client"
    EMAIL_DOMAIN = "email-domain"
    INSTANCE = "instance"


class BrandingChoice(BaseModel):
    """The branding a login flow shows, chosen when it starts (part of its typed state)."""

    branding_id: uuid.UUID | None = None
    chosen_by: ChosenBy = ChosenBy.INSTANCE


def logo_path(row: Branding) -> str | None:
    """The logo's stable address on this server, versioned by its content."""
    if row.logo_digest is None:
        return None
    return f"/branding/logos/{row.id}?v={row.logo_digest[:16]}"


@dataclass(frozen=True)
class Brand:
    """What a page or a message shows of a branding; all empty for none."""

    id: uuid.UUID | None = None
    name: str | None = None
    primary: str | None = None
    on_primary: str | None = None
    accent: str | None = None
    support_url: str | None = None
    logo_path: str | None = None
    texts: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Branding | None) -> Brand:
        if row is None:
            return NO_BRAND
        return cls(
            id=row.id,
            name=row.display_name,
            primary=row.primary_color,
            on_primary=text_on(row.primary_color) if row.primary_color else None,
            accent=row.accent_color,
            support_url=row.support_url,
            logo_path=logo_path(row),
            texts=dict(row.texts),
        )

    def text(self, key: str, language: str) -> str | None:
        """The text in ``language``, else its base language, else English."""
        base = language.split("-")[0]
        for tag in dict.fromkeys((language.lower(), base, FALLBACK_LANGUAGE)):
            value = self.texts.get(tag, {}).get(key)
            if value:
                return value
        return None


NO_BRAND = Brand()
_INSTANCE = "ostiary.branding.instance"
# What login pages keep of brandings, while the change feed vouches that none changed.
_KEPT = "ostiary.branding"
_TOPICS = (TABLE_TOPICS["brandings"],)


def email_domain(identifier: str) -> str | None:
    local, at, domain = identifier.strip().rpartition("@")
    domain = domain.strip().lower().rstrip(".")
    return domain if at and local and domain else None


class BrandingResolver:
    def __init__(self, session: OstiarySession) -> None:
        self.session = session

    def _kept(self, key: Hashable, read: Callable[[], V]) -> V:
        return self.session.kept(_KEPT, key, _TOPICS, read)

    def get(self, branding_id: uuid.UUID | None) -> Branding | None:
        return self.session.get(Branding, branding_id) if branding_id else None

    def instance(self) -> Branding | None:
        # Asked several times by each login page, once per transaction is enough.
        memo = self.session.memo(_INSTANCE)
        if "instance" not in memo:
            memo["instance"] = self.session.scalars(
                select(Branding)
                .join(Context, Context.id == Branding.context_id)
                .where(Context.type == ContextType.ROOT)
            ).one_or_none()
        found: Branding | None = memo["instance"]
        return found

    def nearest(self, ancestor_ids: Sequence[uuid.UUID]) -> Branding | None:
        """The branding of the deepest of these contexts (given from the root down)."""
        if not ancestor_ids:
            return None
        rows = self.session.scalars(
            select(Branding).where(Branding.context_id.in_(list(ancestor_ids)))
        ).all()
        owned = {row.context_id: row for row in rows}
        return next((owned[i] for i in reversed(ancestor_ids) if i in owned), None)

    def for_context(self, context: Context) -> Branding | None:
        return self.nearest(context.ancestor_ids())

    def for_client(self, client: Client) -> Branding | None:
        """The client's own, else its context's below the root (None: not the client's)."""
        own = self.session.scalars(
            select(Branding).where(Branding.client_id == client.id)
        ).one_or_none()
        if own is not None or client.context_id is None:
            return own
        context = self.session.get(Context, client.context_id)
        if context is None:
            return None
        return self.nearest(context.ancestor_ids()[1:])

    def for_email(self, identifier: str) -> Branding | None:
        """The branding of the context whose e-mail domain this address has."""
        domain = email_domain(identifier)
        if domain is None:
            return None
        needle = '"' + domain.replace("\\", "").replace("%", "").replace("_", "\\_") + '"'
        candidates = self.session.scalars(
            select(Context).where(
                cast(Context.email_domains, String).like(f"%{needle}%", escape="\\"),
                Context.status != ContextStatus.CLOSED,
            )
        ).all()
        matching = sorted(
            (c for c in candidates if domain in c.email_domains), key=lambda c: -c.depth
        )
        return self.for_context(matching[0]) if matching else None

    def for_user(self, user: User) -> Branding | None:
        """The nearest branding above every context the user belongs to."""
        paths = self.session.scalars(
            select(Context.path)
            .join(Membership, Membership.context_id == Context.id)
            .where(Membership.user_id == user.id)
        ).all()
        return self.nearest(_common_ancestors(paths)) if paths else self.instance()

    def instance_brand(self) -> Brand:
        return self._kept("instance", lambda: Brand.of(self.instance()))

    def at_login_start(self, client: Client | None, login_hint: str | None) -> BrandingChoice:
        if client is not None:
            branding_id = self._client_branding_id(client)
            if branding_id is not None:
                return BrandingChoice(branding_id=branding_id, chosen_by=ChosenBy.CLIENT)
        return self.after_identifier(BrandingChoice(), login_hint or "")

    def _client_branding_id(self, client: Client) -> uuid.UUID | None:
        def read() -> uuid.UUID | None:
            row = self.for_client(client)
            return row.id if row is not None else None

        if client.context_id is not None:
            # Depends on the context's place in the tree too, which the feed does not tell.
            return read()
        return self._kept(("client", client.id), read)

    def after_identifier(self, choice: BrandingChoice, identifier: str) -> BrandingChoice:
        """A typed e-mail address's context, unless the application chose the branding."""
        if choice.chosen_by is ChosenBy.CLIENT:
            return choice
        row = self.for_email(identifier)
        if row is not None:
            return BrandingChoice(branding_id=row.id, chosen_by=ChosenBy.EMAIL_DOMAIN)
        return BrandingChoice(branding_id=self.instance_brand().id)

    def brand(self, choice: BrandingChoice | None) -> Brand:
        branding_id = choice.branding_id if choice is not None else None
        if branding_id is None:
            return self.instance_brand()
        return self._kept(branding_id, lambda: Brand.of(self.get(branding_id) or self.instance()))


def _common_ancestors(paths: Iterable[str]) -> list[uuid.UUID]:
    chains = [path.strip("/").split("/") for path in paths]
    common: list[uuid.UUID] = []
    for parts in zip(*chains, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(uuid.UUID(parts[0]))
    return common
