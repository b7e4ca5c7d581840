"""The password policy, in one place: every path that sets a password asks it (admin API,
provisioning file, setup page, bootstrap password, change and reset).

Following NIST SP 800-63B: a minimum length (configurable, default 12), long passphrases
accepted (up to ``MAX_LENGTH`` characters, far above the 64 that the guideline asks for; the
cap only bounds the work of hashing), no composition rules, and refused when the password is
among the 10,000 most common ones or contains the username or the name part of the e-mail
address. Comparisons ignore case.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from ostiary.errors import FieldProblem
from ostiary.text import Text

MAX_LENGTH = 1024
# A name shorter than this is too likely to occur by chance in a good password.
MIN_NAME_LENGTH = 3
COMMON_PASSWORDS = "data/common-passwords.txt"

# Stable names of the rules, given with each problem (``rule`` in problem+json errors).
RULE_MIN_LENGTH = "min_length"
RULE_MAX_LENGTH = "max_length"
RULE_COMMON = "common_password"
RULE_USERNAME = "contains_username"
RULE_EMAIL = "contains_email"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list (see ``ostiary/authn/data/README.md``), case-folded."""
    text = files("ostiary.authn").joinpath(COMMON_PASSWORDS).read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


def email_name(email: str | None) -> str | None:
    """The part of an address before the ``@``."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[0]


class PasswordPolicy:
    def __init__(self, min_length: int = 12, max_length: int = MAX_LENGTH) -> None:
        self.min_length = min_length
        self.max_length = max_length

    def problems(
        self,
        password: str,
        *,
        field: str = "password",
        username: str | None = None,
        email: str | None = None,
    ) -> list[FieldProblem]:
        """What is wrong with ``password`` as a new password; empty when it may be used."""
        found: list[FieldProblem] = []
        if len(password) < self.min_length:
            found.append(
                FieldProblem(
                    field,
                    Text(
                        "must be at least {min_length} characters long", min_length=self.min_length
                    ),
                    RULE_MIN_LENGTH,
                )
            )
        if len(password) > self.max_length:
            found.append(
                FieldProblem(
                    field,
                    Text(
                        "must be at most {max_length} characters long", max_length=self.max_length
                    ),
                    RULE_MAX_LENGTH,
                )
            )
        folded = password.casefold()
        if folded in common_passwords():
            found.append(
                FieldProblem(field, "is one of the 10,000 most common passwords", RULE_COMMON)
            )
        if _contains(folded, username):
            found.append(FieldProblem(field, "must not contain the username", RULE_USERNAME))
        local = email_name(email)
        if _contains(folded, local) and not _contains((local or "").casefold(), username):
            found.append(
                FieldProblem(field, "must not contain the name of the e-mail address", RULE_EMAIL)
            )
        return found


def _contains(folded_password: str, name: str | None) -> bool:
    name = (name or "").strip().casefold()
    return len(name) >= MIN_NAME_LENGTH and name in folded_password
