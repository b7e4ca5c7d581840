"""``/api/v1/contracts``: reading needs ``contexts.read``, writing ``contracts.manage``, each
in the account's subtree or above it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.idempotency import Idempotent
from ostiary.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, next_cursor
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.contexts.models import Context
from ostiary.contracts.models import Contract, ContractStatus
from ostiary.contracts.schemas import (
    EXTERNAL_ID,
    ContractCreate,
    ContractFields,
    ContractOut,
    ContractUpdate,
)
from ostiary.contracts.services import ContractQuery, ContractService
from ostiary.errors import RuleViolation
from ostiary.registrations.decisions import Decisions

router = APIRouter(prefix="/contracts", tags=["contracts"])
ReadScope = Annotated[AdminScope, Depends(scope_for(Right.CONTEXTS_READ))]
ManageScope = Annotated[AdminScope, Depends(scope_for(Right.CONTRACTS_MANAGE))]
ExternalId = Annotated[str, Path(pattern=EXTERNAL_ID, description="The CRM's id of the contract")]


def _today() -> date:
    return datetime.now(UTC).date()


def _service(session: SessionDep, caller: CallerDep, runtime: RuntimeDep) -> ContractService:
    today = _today()
    registrations = Decisions(session, runtime, today)
    return ContractService(session, caller.actor, today, on_write=registrations.approve_on_contract)


def visible_contract(service: ContractService, scope: AdminScope, external_id: str) -> Contract:
    contract = service.get(external_id)
    if not scope.covers(contract.account):
        raise scope.refuse("contract", contract.id, contract.account_id)
    return contract


def account_in_reach(service: ContractService, scope: AdminScope, ref: str) -> Context:
    account = service.find_account(ref)
    if not scope.covers(account):
        refused = scope.refuse("context", account.id, account.id)
        raise RuleViolation(
            f"no account with id or number '{ref}'", field="account", refusal=refused.refusal
        )
    return account


def _out(service: ContractService, contract: Contract) -> ContractOut:
    return ContractOut.of(contract, service.today)


@router.get("", response_model=Page[ContractOut], summary="List contracts")
def list_contracts(
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ReadScope,
    account: Annotated[
        str | None, Query(description="Only this account's, by id or external number")
    ] = None,
    status: ContractStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ContractOut]:
    service = _service(session, caller, runtime)
    account_id: uuid.UUID | None = None
    if account is not None:
        account_id = account_in_reach(service, scope, account).id
    rows = service.search(
        ContractQuery(
            account_id=account_id,
            status=status,
            visible_paths=scope.visible_paths,
            after_external_id=decode_cursor(cursor),
            limit=limit,
        )
    )
    return Page(
        items=[_out(service, row) for row in rows],
        next_cursor=next_cursor(rows, limit, "external_id"),
    )


@router.post(
    "",
    response_model=ContractOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a contract",
    description="409 naming `external_id` when it exists; an `Idempotency-Key` header makes a "
    "repeat get the first answer.",
    dependencies=[Idempotent],
)
def create_contract(
    data: ContractCreate,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ManageScope,
) -> ContractOut:
    service = _service(session, caller, runtime)
    contract = service.create(data, account_in_reach(service, scope, data.account))
    return _out(service, contract)


@router.get("/{external_id}", response_model=ContractOut, summary="Read a contract")
def read_contract(
    external_id: ExternalId,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ReadScope,
) -> ContractOut:
    service = _service(session, caller, runtime)
    return _out(service, visible_contract(service, scope, external_id))


@router.put(
    "/{external_id}",
    response_model=ContractOut,
    summary="Create or replace a contract by its external id",
    description="Idempotent: 201 when created, 200 when it existed (changed or not).",
    responses={201: {"description": "Created"}},
)
def put_contract(
    external_id: ExternalId,
    data: ContractFields,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ManageScope,
) -> ContractOut:
    service = _service(session, caller, runtime)
    if service.find(external_id) is not None:
        visible_contract(service, scope, external_id)
    contract, created = service.put(
        external_id, data, account_in_reach(service, scope, data.account)
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return _out(service, contract)


@router.patch("/{external_id}", response_model=ContractOut, summary="Change a contract")
def update_contract(
    external_id: ExternalId,
    data: ContractUpdate,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ManageScope,
) -> ContractOut:
    service = _service(session, caller, runtime)
    contract = visible_contract(service, scope, external_id)
    if "account" in data.model_fields_set and data.account is None:
        raise RuleViolation("account cannot be empty", field="account")
    account = account_in_reach(service, scope, data.account) if data.account is not None else None
    return _out(service, service.update(contract, data, account))


@router.delete(
    "/{external_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a contract"
)
def delete_contract(
    external_id: ExternalId,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ManageScope,
) -> Response:
    service = _service(session, caller, runtime)
    service.delete(visible_contract(service, scope, external_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
