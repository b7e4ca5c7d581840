"""``/console/contracts``: contracts of the accounts in reach (``contexts.read``), filtered by
account and status, a page at a time; creating and changing them (``contracts.manage``),
through the services of ``/api/v1/contracts``. An account's contracts say what the contract
lifecycle will do to it, and a write says when it reactivated the account."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ostiary.access.catalogue import Right
from ostiary.api.pagination import decode_cursor, next_cursor
from ostiary.api.v1.contracts import account_in_reach, visible_contract
from ostiary.api.v1.deps import RuntimeDep, SessionDep, keep_refusal
from ostiary.contexts.models import Context
from ostiary.contracts import schemas
from ostiary.contracts.lifecycle import outlook
from ostiary.contracts.models import Contract, ContractStatus
from ostiary.contracts.schemas import ContractCreate, ContractUpdate
from ostiary.contracts.services import ContractQuery, ContractService
from ostiary.errors import OstiaryError
from ostiary.registrations.decisions import Decisions
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
STATUSES = [str(s) for s in ContractStatus]
FIELDS = ("external_id", "account", "product", "status", "starts_on", "ends_on")
INVALID = {
    "external_id": "Letters, digits and . _ : / - only, at most 100, starting with a letter "
    "or digit.",
    "account": "Enter the id or number of an account in your reach.",
    "product": "Enter a product of at most 200 characters.",
    "status": "Choose a status.",
    "starts_on": "Enter a date such as 2026-01-31.",
    "ends_on": "Enter a date such as 2026-12-31, not before the start.",
}
END_BEFORE_START = "The end must not be before the start."


def _today() -> date:
    return datetime.now(UTC).date()


def _service(console: ConsoleSession, runtime: RuntimeDep) -> ContractService:
    """As the API makes it: a write approves a registration waiting for its contract."""
    session = console.caller.session
    today = _today()
    registrations = Decisions(session, runtime, today)
    return ContractService(
        session, console.caller.actor, today, on_write=registrations.approve_on_contract
    )


def _errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "external_id"
        if field == "ends_on" and error["type"] == "value_error":
            errors[field] = END_BEFORE_START
        else:
            errors.setdefault(field, INVALID.get(field, "Check this field."))
    return errors


def _typed(contract: Contract | None = None, **given: str) -> dict[str, str]:
    values = dict.fromkeys(FIELDS, "")
    if contract is not None:
        values |= {
            "external_id": contract.external_id,
            "account": contract.account.number or str(contract.account_id),
            "product": contract.product,
            "status": str(contract.status),
            "starts_on": contract.starts_on.isoformat(),
            "ends_on": contract.ends_on.isoformat() if contract.ends_on else "",
        }
    return values | given


def _service_error(session: SessionDep, exc: OstiaryError) -> dict[str, str]:
    """A service's refusal of one field, shown next to it; anything else is the page's."""
    if exc.field is None or (exc.status in (403, 404) and exc.refusal is None):
        raise exc
    if exc.refusal is not None:
        keep_refusal(session, exc.refusal)
    else:
        session.rollback()
    field = exc.field if exc.field in FIELDS else "external_id"
    if exc.field == "account":
        return {field: INVALID["account"]}
    if exc.detail.endswith(schemas.END_BEFORE_START):
        return {field: END_BEFORE_START}
    return {field: exc.detail}


def _list(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    account: str = "",
    status: str = "",
    cursor: str = "",
    *,
    code: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    session = console.caller.session
    scope = console.scope(Right.CONTEXTS_READ)
    service = _service(console, runtime)
    shown: Context | None = None
    filter_errors: dict[str, str] = {}
    if account.strip():
        try:
            shown = account_in_reach(service, scope, account.strip())
        except OstiaryError as exc:
            filter_errors = {"filter_account": _service_error(session, exc)["account"]}
    rows: list[Contract] = []
    if not filter_errors:
        rows = list(
            service.search(
                ContractQuery(
                    account_id=shown.id if shown is not None else None,
                    status=ContractStatus(status) if status in STATUSES else None,
                    visible_paths=scope.visible_paths,
                    after_external_id=decode_cursor(cursor) if cursor else None,
                    limit=PAGE_SIZE,
                )
            )
        )
    foreseen = None
    if shown is not None:
        grace = runtime.settings.contract_grace_days
        foreseen = outlook(session, shown, service.today, grace)
    all_errors = {**filter_errors, **(errors or {})}
    return render(
        request,
        runtime,
        console,
        "contracts.html",
        status=code if code != 200 else (422 if filter_errors else 200),
        active="contracts",
        contracts=rows,
        today=service.today,
        account=shown,
        outlook=foreseen,
        filters={"account": account, "status": status},
        statuses=STATUSES,
        next_cursor=next_cursor(rows, PAGE_SIZE, "external_id"),
        may_manage=console.may(Right.CONTRACTS_MANAGE),
        errors=all_errors,
        typed=_typed(**(typed or {"account": account.strip(), "status": "active"})),
        notice=notice,
    )


@router.get("/console/contracts")
def list_contracts(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    account: str = "",
    status: str = "",
    cursor: str = "",
    done: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        return _list(request, runtime, console, account, status, cursor, notice=done or None)

    return console_page(request, runtime, session, work)


def _form_values(typed: dict[str, str]) -> dict[str, object]:
    return {
        "account": typed["account"].strip(),
        "product": typed["product"].strip(),
        "status": typed["status"],
        "starts_on": typed["starts_on"].strip() or None,
        "ends_on": typed["ends_on"].strip() or None,
    }


def _back_to_account(service: ContractService, contract: Contract) -> Response:
    """To the account's contracts, saying whether the write reactivated the account."""
    ref = contract.account.number or str(contract.account_id)
    done = "reactivated" if service.reactivated else "saved"
    return redirect(f"/console/contracts?{urlencode({'account': ref, 'done': done})}")


@router.post("/console/contracts")
def create_contract(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    external_id: Annotated[str, Form()] = "",
    account: Annotated[str, Form()] = "",
    product: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    starts_on: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
) -> Response:
    typed = _typed(
        external_id=external_id,
        account=account,
        product=product,
        status=status,
        starts_on=starts_on,
        ends_on=ends_on,
    )

    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.CONTRACTS_MANAGE)
        service = _service(console, runtime)

        def again(errors: dict[str, str], code: int = 422) -> Response:
            return _list(request, runtime, console, code=code, errors=errors, typed=typed)

        try:
            data = ContractCreate.model_validate(
                {"external_id": external_id.strip(), **_form_values(typed)}
            )
        except ValidationError as exc:
            return again(_errors(exc))
        try:
            target = account_in_reach(service, scope, data.account)
            contract = service.create(data, target)
        except OstiaryError as exc:
            return again(_service_error(session, exc), exc.status)
        return _back_to_account(service, contract)

    return console_page(request, runtime, session, work, csrf=csrf)


def _edit_page(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    contract: Contract,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    service = _service(console, runtime)
    return render(
        request,
        runtime,
        console,
        "contract.html",
        status=status,
        active="contracts",
        contract=contract,
        running=contract.running_on(service.today),
        may_manage=console.may(Right.CONTRACTS_MANAGE),
        statuses=STATUSES,
        errors=errors or {},
        typed=typed or _typed(contract),
    )


@router.get("/console/contracts/{external_id:path}")
def show_contract(
    request: Request, runtime: RuntimeDep, session: SessionDep, external_id: str
) -> Response:
    def work(console: ConsoleSession) -> Response:
        service = _service(console, runtime)
        contract = visible_contract(service, console.scope(Right.CONTEXTS_READ), external_id)
        return _edit_page(request, runtime, console, contract)

    return console_page(request, runtime, session, work)


@router.post("/console/contracts/{external_id:path}")
def update_contract(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    external_id: str,
    csrf: Annotated[str, Form()] = "",
    account: Annotated[str, Form()] = "",
    product: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    starts_on: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.CONTRACTS_MANAGE)
        service = _service(console, runtime)
        contract = visible_contract(service, scope, external_id)
        typed = _typed(
            external_id=contract.external_id,
            account=account,
            product=product,
            status=status,
            starts_on=starts_on,
            ends_on=ends_on,
        )

        def again(errors: dict[str, str], code: int = 422) -> Response:
            fresh = visible_contract(service, scope, external_id)
            return _edit_page(
                request, runtime, console, fresh, status=code, errors=errors, typed=typed
            )

        values = _form_values(typed)
        # The whole form is the contract: nothing may be left empty but the end (which clears).
        errors = {
            f: INVALID[f] for f in ("account", "product", "status", "starts_on") if not values[f]
        }
        try:
            data = ContractUpdate.model_validate(values)
        except ValidationError as exc:
            errors = _errors(exc) | errors
        if errors:
            return again(errors)
        try:
            target = account_in_reach(service, scope, str(values["account"]))
            service.update(contract, data, target)
        except OstiaryError as exc:
            return again(_service_error(session, exc), exc.status)
        return _back_to_account(service, contract)

    return console_page(request, runtime, session, work, csrf=csrf)
