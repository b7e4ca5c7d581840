"""Setting and removing the branding of a context or a client, audited in one transaction."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.branding.logos import check
from ostiary.branding.models import Branding
from ostiary.branding.schemas import BrandingIn
from ostiary.clients.models import Client
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import NotFound
from ostiary.text import Text


@dataclass(frozen=True)
class Owner:
    """A context or a client: whose branding it is."""

    context: Context | None = None
    client: Client | None = None

    @property
    def label(self) -> str:
        if self.client is not None:
            return f"client '{self.client.client_id}'"
        assert self.context is not None
        return f"context '{self.context.id}'"

    @property
    def audit_context_id(self) -> uuid.UUID | None:
        if self.context is not None:
            return self.context.id
        return self.client.context_id if self.client is not None else None

    def owned_by(self) -> dict[str, Any]:
        if self.client is not None:
            return {"client_id": self.client.id}
        assert self.context is not None
        return {"context_id": self.context.id}


class BrandingService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def find(self, owner: Owner) -> Branding | None:
        return self.session.scalars(select(Branding).filter_by(**owner.owned_by())).one_or_none()

    def get(self, owner: Owner) -> Branding:
        row = self.find(owner)
        if row is None:
            raise NotFound(
                Text("{label} has no branding of its own", label=owner.label), field="branding"
            )
        return row

    def put(self, owner: Owner, data: BrandingIn) -> Branding:
        """Create or replace the branding (its logo stays); the same values change nothing."""
        row, _ = self.apply(owner, data)
        assert row is not None
        return row

    def apply(self, owner: Owner, data: BrandingIn | None) -> tuple[Branding | None, bool]:
        """Bring the branding to ``data`` (None: none); whether anything changed."""
        if data is None:
            if self.find(owner) is None:
                return None, False
            self.delete(owner)
            return None, True
        values = data.model_dump(mode="json")
        with self.session.atomic():
            row = self.find(owner)
            created = row is None
            if row is not None and all(getattr(row, k) == v for k, v in values.items()):
                return row, False
            if row is None:
                row = Branding(**owner.owned_by())
                self.session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            self.session.flush()
            self._record(owner, row, "branding.created" if created else "branding.updated", values)
        return row, True

    def stated(self, owner: Owner) -> BrandingIn | None:
        """The stored branding as it would be written (a provisioning file's export)."""
        row = self.find(owner)
        if row is None:
            return None
        texts = {
            tag: {k: v for k, v in parts.items() if v is not None}
            for tag, parts in row.texts.items()
        }
        values = {
            "display_name": row.display_name,
            "primary_color": row.primary_color,
            "accent_color": row.accent_color,
            "support_url": row.support_url,
            "texts": texts,
        }
        return BrandingIn.model_validate({k: v for k, v in values.items() if v})

    def delete(self, owner: Owner) -> None:
        with self.session.atomic():
            row = self.get(owner)
            self._record(owner, row, "branding.deleted", {})
            self.session.delete(row)

    def put_logo(
        self, owner: Owner, content: bytes, content_type: str | None, max_bytes: int
    ) -> Branding:
        logo = check(content, content_type, max_bytes)
        with self.session.atomic():
            row = self.get(owner)
            row.logo, row.logo_type = logo.content, logo.content_type
            row.logo_digest = hashlib.sha256(logo.content).hexdigest()
            self._record(
                owner,
                row,
                "branding.logo_set",
                {"logo_type": row.logo_type, "bytes": len(content), "sha256": row.logo_digest},
            )
        return row

    def delete_logo(self, owner: Owner) -> Branding:
        with self.session.atomic():
            row = self.get(owner)
            if row.logo_digest is None:
                raise NotFound(
                    Text("the branding of {label} has no logo", label=owner.label), field="logo"
                )
            row.logo = row.logo_type = row.logo_digest = None
            self._record(owner, row, "branding.logo_removed", {})
        return row

    def _record(self, owner: Owner, row: Branding, action: str, changes: dict[str, Any]) -> None:
        whose = (
            {"client_id": owner.client.client_id}
            if owner.client is not None
            else {"context_id": str(row.context_id)}
        )
        self.audit.record(
            self.actor,
            action,
            target_type="branding",
            target_id=row.id,
            context_id=owner.audit_context_id,
            changes={**whose, **changes},
        )
