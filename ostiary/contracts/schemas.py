from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy.orm import Session

from ostiary.contracts.models import Contract, ContractStatus
from ostiary.webhooks.renderers import register, target_uuid

END_BEFORE_START = "must not be before starts_on"
EXTERNAL_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"


class ContractFields(BaseModel):
    """What a CRM says of a contract, whole (PUT)."""

    model_config = ConfigDict(extra="forbid")

    account: str = Field(
        min_length=1,
        max_length=100,
        description="The account context: its id, or its external number.",
    )
    product: str = Field(min_length=1, max_length=200, description="Product or service.")
    status: ContractStatus
    starts_on: date
    ends_on: date | None = Field(None, description="Last day of the contract; none: open-ended.")

    @field_validator("ends_on")
    @classmethod
    def _end_not_before_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        starts_on = info.data.get("starts_on")
        if value is not None and starts_on is not None and value < starts_on:
            raise ValueError(END_BEFORE_START)
        return value


class ContractCreate(ContractFields):
    external_id: str = Field(pattern=EXTERNAL_ID, description="The CRM's id of the contract.")


class ContractUpdate(BaseModel):
    """Only the fields given are changed; ``null`` clears ``ends_on``."""

    model_config = ConfigDict(extra="forbid")

    account: str | None = Field(None, min_length=1, max_length=100)
    product: str | None = Field(None, min_length=1, max_length=200)
    status: ContractStatus | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class ContractOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str
    account_id: uuid.UUID
    account_number: str | None
    product: str
    status: ContractStatus
    starts_on: date
    ends_on: date | None
    running: bool = Field(description="Active, and today within its start and end.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contract: Contract, today: date) -> ContractOut:
        return cls(
            id=contract.id,
            external_id=contract.external_id,
            account_id=contract.account_id,
            account_number=contract.account.number,
            product=contract.product,
            status=ContractStatus(contract.status),
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            running=contract.running_on(today),
            created_at=contract.created_at,
            updated_at=contract.updated_at,
        )


def _render(session: Session, target_id: str) -> dict[str, Any] | None:
    contract = session.get(Contract, target_uuid(target_id))
    if contract is None:
        return None
    return ContractOut.of(contract, datetime.now(UTC).date()).model_dump(mode="json")


register("contract", _render)
