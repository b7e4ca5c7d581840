"""The fixed catalogue of purposes Ostiary sends messages for, and the variables of each."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from ostiary.text import Text


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    sample: str | int


@dataclass(frozen=True)
class Purpose:
    key: str
    description: str
    channels: tuple[Channel, ...]
    # What the sender passes; every one is required.
    variables: tuple[Variable, ...] = field(default_factory=tuple)

    @property
    def all_variables(self) -> tuple[Variable, ...]:
        return (*COMMON_VARIABLES, *self.variables)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(v.name for v in self.all_variables)

    def samples(self) -> dict[str, str | int]:
        return {v.name: v.sample for v in self.all_variables}


# Filled in by Ostiary for every message (from the recipient and the settings); a sender may
# give them too.
COMMON_VARIABLES = (
    Variable("name", "The recipient's name (first and last name, else the username)", "Jane Doe"),
    Variable("username", "The recipient's username (empty for a bare address)", "jdoe"),
    Variable("site_url", "The public address of this server", "https://login.example.com"),
    # From the branding the message carries (docs/branding.md); empty where it has none.
    Variable(
        "brand_name",
        "The branding's display name (empty where none applies)",
        "SmartPlan",
    ),
    Variable(
        "brand_logo_url",
        "Address of the branding's logo (empty without one)",
        "https://login.example.com/branding/logos/sample",
    ),
    Variable("brand_primary_color", "The branding's primary colour, #rrggbb", "#1a5fb4"),
    Variable("brand_text_color", "Black or white, readable on the primary colour", "#ffffff"),
    Variable("brand_accent_color", "The branding's accent colour for links, #rrggbb", "#1a5fb4"),
    Variable(
        "brand_support_url",
        "The branding's support link (empty without one)",
        "https://support.example.com",
    ),
)

_CODE = Variable("code", "The one-time code, digits only", "482913")
_MINUTES = Variable("minutes", "Minutes until the code or link expires", 10)
_LINK = Variable("link", "The link to open", "https://login.example.com/reset?token=sample")
_DAYS = Variable("days", "Days until the link expires", 7)
_CHANGED_FIELD = Variable("field", "What changes: 'email' or 'phone'", "email")
_NEW_VALUE = Variable("new_value", "The new address or number, partly hidden", "j•••@new.example")
_ORGANIZATION = Variable("organization", "Name of the organization (context)", "Acme Ltd")

PURPOSES: dict[str, Purpose] = {
    p.key: p
    for p in (
        Purpose(
            "second-factor-code",
            "The code of the second factor at login",
            (Channel.EMAIL, Channel.SMS),
            (_CODE, _MINUTES),
        ),
        Purpose(
            "password-reset",
            "A link to choose a new password",
            (Channel.EMAIL,),
            (_LINK, _MINUTES),
        ),
        Purpose(
            "password-reset-external",
            "Answer to a reset request of a user whose password an external identity provider "
            "keeps (delegated domain): no link, where to go instead",
            (Channel.EMAIL,),
            (),
        ),
        Purpose(
            "invitation",
            "An invitation to join an organization",
            (Channel.EMAIL,),
            (
                _LINK,
                _DAYS,
                _ORGANIZATION,
                Variable("inviter", "Name of the person who invites", "John Smith"),
                Variable(
                    "message",
                    "The inviter's own words (may be empty)",
                    "Welcome aboard: this is where you see the consumption of our sites.",
                ),
            ),
        ),
        Purpose(
            "email-verification",
            "Confirm an e-mail address, by link or code",
            (Channel.EMAIL,),
            (_LINK, _CODE, _MINUTES),
        ),
        Purpose(
            "phone-verification",
            "Confirm a phone number by code",
            (Channel.SMS,),
            (_CODE, _MINUTES),
        ),
        Purpose(
            "contact-change-requested",
            "To the account's current e-mail address: a new e-mail address or phone number was "
            "asked for and waits for its verification",
            (Channel.EMAIL,),
            (_CHANGED_FIELD, _NEW_VALUE, _MINUTES),
        ),
        Purpose(
            "contact-changed",
            "To the account's former (or, for a phone number, current) e-mail address: the new "
            "e-mail address or phone number was verified and now applies",
            (Channel.EMAIL,),
            (_CHANGED_FIELD, _NEW_VALUE),
        ),
        Purpose(
            "account-activation",
            "A new account: choose a password and start",
            (Channel.EMAIL,),
            (_LINK, _DAYS),
        ),
        Purpose(
            "password-changed",
            "Notice that the account's password was changed",
            (Channel.EMAIL,),
            (),
        ),
        Purpose(
            "registration-known",
            "Answer to a registration with an address that has an account already: no new "
            "account, where to sign in instead",
            (Channel.EMAIL,),
            (_LINK,),
        ),
        Purpose(
            "registration-approved",
            "The registration or join request was approved: the account is ready",
            (Channel.EMAIL,),
            (_ORGANIZATION, _LINK),
        ),
        Purpose(
            "registration-rejected",
            "The registration or join request was declined, with the reason",
            (Channel.EMAIL,),
            (
                _ORGANIZATION,
                Variable("reason", "Why it was declined", "We could not confirm the company."),
            ),
        ),
        Purpose(
            "join-request",
            "To contact persons: someone asks to join their organization",
            (Channel.EMAIL,),
            (
                _LINK,
                _ORGANIZATION,
                Variable("requester", "Name and e-mail of the person asking", "Max Muster"),
            ),
        ),
    )
}


def purpose_of(key: str) -> Purpose | None:
    return PURPOSES.get(key)


def check_variables(purpose: Purpose, given: Mapping[str, object]) -> None:
    """A sender must give every variable of the purpose and nothing else."""
    own = {v.name for v in purpose.variables}
    missing = sorted(own - given.keys())
    unknown = sorted(given.keys() - purpose.names)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(unknown)}")
        raise ValueError(
            Text("variables for '{key}': {parts}", key=purpose.key, parts="; ".join(parts))
        )
