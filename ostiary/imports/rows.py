"""One row of an import file, checked on its own: each cell well-formed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ostiary import text
from ostiary.authn.passwords import Passwords
from ostiary.imports.csvfile import RawRow
from ostiary.imports.problems import RowProblem
from ostiary.text import Text
from ostiary.users.models import UserStatus
from ostiary.users.schemas import check_email, check_language, check_phone, check_username

PROFILE_COLUMNS = ("email", "first_name", "last_name", "phone", "language")
IMPORTABLE_STATUSES = (UserStatus.DRAFT, UserStatus.ACTIVE, UserStatus.INACTIVE)
YES = frozenset({"yes", "true", "1"})
NO = frozenset({"no", "false", "0", ""})
MAX_NAME = 100


def _name(value: str) -> str:
    if len(value) > MAX_NAME:
        raise ValueError(Text("must be at most {max_name} characters", max_name=MAX_NAME))
    return value


CHECKS: dict[str, Callable[[str], str]] = {
    "email": check_email,
    "phone": check_phone,
    "language": check_language,
    "first_name": _name,
    "last_name": _name,
}


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    username: str
    context: str
    # The profile columns the file has, normalized; None clears a field.
    profile: dict[str, str | None]
    domain: str | None  # None: not given (new users get the default domain)
    status: UserStatus | None  # None: not given (new users are drafts)
    groups: frozenset[str] | None  # None: the file has no groups column
    password_hash: str | None
    invite: bool
    # Whether the CRM vouches for the address; None: not said (new users: not verified).
    email_verified: bool | None = None

    @property
    def email_key(self) -> str | None:
        email = self.profile.get("email")
        return email.casefold() if email else None


def parse_row(raw: RawRow) -> ImportRow | list[RowProblem]:
    if raw.malformed is not None:
        return [RowProblem(raw.line, "", raw.malformed)]
    cells = raw.cells
    problems: list[RowProblem] = []

    def problem(column: str, message: str) -> None:
        problems.append(RowProblem(raw.line, column, message))

    username = cells["username"]
    if not username:
        problem("username", "is empty")
    else:
        try:
            username = check_username(username)
        except ValueError as exc:
            problem("username", text.of(exc))
    if not cells["context"]:
        problem("context", "is empty; give the key or the external number of a context")
    profile: dict[str, str | None] = {}
    for column in PROFILE_COLUMNS:
        if column not in cells:
            continue
        value = cells[column]
        try:
            profile[column] = CHECKS[column](value) if value else None
        except ValueError as exc:
            problem(column, text.of(exc))
    status = _status(cells.get("status", ""), problem)
    password_hash = cells.get("password_hash") or None
    if password_hash is not None and not Passwords.is_argon2_hash(password_hash):
        problem("password_hash", "must be an argon2id hash ($argon2id$...), never a password")
    invite = cells.get("invite", "").lower()
    if invite not in YES | NO:
        problem("invite", "must be yes or no (or empty)")
    elif invite in YES and not profile.get("email"):
        problem("invite", "an invitation needs an e-mail address")
    email_verified: bool | None = None
    try:
        email_verified = _flag(cells.get("email_verified", ""))
    except ValueError as exc:
        problem("email_verified", text.of(exc))
    if email_verified and "email" in cells and not profile.get("email"):
        problem("email_verified", "only an e-mail address can be verified; this row has none")
    groups = None
    if "groups" in cells:
        groups = frozenset(name.strip() for name in cells["groups"].split(";") if name.strip())
    if problems:
        return problems
    return ImportRow(
        line=raw.line,
        username=username,
        context=cells["context"],
        profile=profile,
        domain=cells.get("domain") or None,
        status=status,
        groups=groups,
        password_hash=password_hash,
        invite=invite in YES,
        email_verified=email_verified,
    )


def _flag(value: str) -> bool | None:
    """True or false; None when empty."""
    value = value.strip().lower()
    if not value:
        return None
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError("must be true or false (or empty)")


def _status(value: str, problem: Callable[[str, str], None]) -> UserStatus | None:
    if not value:
        return None
    try:
        status = UserStatus(value.lower())
    except ValueError:
        problem(
            "status",
            Text(
                "unknown status '{value}' (known: {importable_statuses})",
                value=value,
                importable_statuses=", ".join(IMPORTABLE_STATUSES),
            ),
        )
        return None
    if status not in IMPORTABLE_STATUSES:
        problem("status", "deleting is not done by import; delete the user through the API")
        return None
    return status


Parsed = ImportRow | list[RowProblem]


def parse_rows(raws: Sequence[RawRow]) -> list[Parsed]:
    """Every row checked, in order, in this process: checking them in worker processes
    took twice as long on two CPUs (starting the workers and moving rows to them and back
    cost more than the checks save; see docs/benchmarks.md)."""
    return [parse_row(raw) for raw in raws]
