"""Domain errors. Each kind has a stable problem ``type`` (RFC 9457) and an HTTP status."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.exc import IntegrityError

from ostiary import text
from ostiary.audit.actor import Actor
from ostiary.text import Text

PROBLEM_BASE = "urn:ostiary:problem:"


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with the input, named by its place (``users[3].memberships[0].context``)."""

    field: str
    # The English sentence, as the API shows it; a ``Text`` where it carries values.
    message: str
    # A stable name of the rule that was broken, where there is one (``min_length``).
    rule: str | None = None

    @property
    def text(self) -> Text:
        """The message with its template and values, for a page to show in its language."""
        return text.of(self.message)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Refusal:
    """An attempt beyond the caller's rights, to be written to the audit log although (and
    because) nothing else is written."""

    actor: Actor
    action: str
    target_type: str
    target_id: str | None
    context_id: uuid.UUID | None
    reason: str


class OstiaryError(Exception):
    kind: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(
        self, detail: str, *, field: str | None = None, refusal: Refusal | None = None
    ) -> None:
        super().__init__(detail)
        # The English sentence, as the API shows it; a ``Text`` where it carries values.
        self.detail = detail
        self.field = field
        self.refusal = refusal

    @property
    def text(self) -> Text:
        """The detail with its template and values, for a page to show in its language."""
        return text.of(self.detail)

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.kind

    def extensions(self) -> dict[str, Any]:
        return {"field": self.field} if self.field else {}

    def headers(self) -> dict[str, str]:
        """HTTP headers of the answer (``Retry-After``, say)."""
        return {}


class NotFound(OstiaryError):
    kind = "not-found"
    status = 404
    title = "Not found"


class Conflict(OstiaryError):
    kind = "conflict"
    status = 409
    title = "Conflict"


class AlreadyExists(Conflict):
    kind = "already-exists"
    title = "Already exists"


class InvalidTransition(Conflict):
    kind = "invalid-transition"
    title = "Not allowed in this state"


class RuleViolation(OstiaryError):
    """The input is well-formed but breaks a rule of the model (type hierarchy, domain rules)."""

    kind = "rule-violation"
    status = 422
    title = "Not allowed by the rules"


class Unauthenticated(OstiaryError):
    kind = "unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(OstiaryError):
    kind = "forbidden"
    status = 403
    title = "Forbidden"


class InvalidInput(OstiaryError):
    """Several problems with one input, each named by its place; nothing was written."""

    kind = "invalid-input"
    status = 422
    title = "Invalid input"

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        detail = "; ".join(str(p) for p in problems) or "invalid input"
        super().__init__(detail, field=problems[0].field if problems else None)

    def extensions(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "errors": [
                {"field": p.field, "message": p.message} | ({"rule": p.rule} if p.rule else {})
                for p in self.problems
            ],
        }


# Unique constraints by name (see the naming convention in ostiary.db.base) and the field
# each one guards, as the client knows it.
UNIQUE_FIELDS: dict[str, str] = {
    "uq_users_username": "username",
    "uq_users_email_key": "email",
    "uq_contexts_number": "number",
    "ix_contexts_single_root": "type",
    "uq_user_domains_name": "name",
    "uq_modules_key": "key",
    "uq_acls_module_id_key": "key",
    "uq_acl_templates_key": "key",
    "uq_user_groups_context_id_name": "name",
    "uq_clients_client_id": "client_id",
    "uq_external_identities_idp_subject": "subject",
    "uq_contracts_external_id": "external_id",
    "uq_invitations_context_id_pending_key": "email",
}
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")
_SQLITE_COLUMNS: dict[str, str] = {
    "users.username": "username",
    "users.email_key": "email",
    "contexts.number": "number",
    "invitations.pending_key": "email",
    "contexts.type": "type",
}


def conflict_from_integrity_error(exc: IntegrityError) -> OstiaryError:
    """Name the field behind a unique violation, whichever database reported it."""
    orig = exc.orig
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    field_name: str | None = UNIQUE_FIELDS.get(constraint or "")
    if field_name is None:
        match = _SQLITE_UNIQUE.search(str(orig))
        if match:
            columns = match.group(1).split(", ")
            field_name = _SQLITE_COLUMNS.get(columns[-1], columns[-1].split(".")[-1])
    if field_name is None:
        return Conflict("the change conflicts with existing data")
    return AlreadyExists(Text("{field} is already taken", field=field_name), field=field_name)
