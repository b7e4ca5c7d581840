from __future__ import annotations

import re
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ostiary.contexts.models import ContextStatus, ContextType, SuspensionReason
from ostiary.text import Text

KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _email_domains(values: list[str]) -> list[str]:
    cleaned = sorted({value.strip().lower() for value in values})
    for value in cleaned:
        if not _DOMAIN.match(value):
            raise ValueError(Text("'{value}' is not a domain name", value=value))
    return cleaned


class ContextCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(
        None, pattern=KEY_PATTERN, description="Stable handle; generated if absent."
    )
    type: ContextType
    name: str = Field(min_length=1, max_length=200)
    parent_id: uuid.UUID | None = None
    number: str | None = Field(
        None, min_length=1, max_length=100, description="External (CRM) number."
    )
    status: ContextStatus = ContextStatus.ACTIVE
    email_domains: list[str] = Field(default_factory=list)

    _domains = field_validator("email_domains")(_email_domains)


class ContextUpdate(BaseModel):
    """Only the fields given are changed; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, pattern=KEY_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=200)
    number: str | None = Field(None, min_length=1, max_length=100)
    status: ContextStatus | None = None
    email_domains: list[str] | None = None

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _email_domains(values)


class ContextMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent_id: uuid.UUID


class ContextOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    type: ContextType
    name: str
    number: str | None
    status: ContextStatus
    suspended_by: SuspensionReason | None = Field(
        None, description="While suspended: by a contract's end or by an administrator."
    )
    parent_id: uuid.UUID | None
    depth: int
    email_domains: list[str]
    created_at: datetime
    updated_at: datetime
