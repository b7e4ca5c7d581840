"""Writing and finding contracts. A write that gives a suspended account a running contract
again reactivates it in the same transaction (when the suspension was the contract lifecycle's,
not an administrator's). The same write approves a registration waiting for it, through
``on_write``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import literal, select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context, ContextStatus, ContextType, SuspensionReason
from ostiary.contexts.suspension import Suspensions
from ostiary.contracts.models import STOPPED, Contract, ContractStatus, running_on
from ostiary.contracts.schemas import (
    END_BEFORE_START,
    ContractCreate,
    ContractFields,
    ContractUpdate,
)
from ostiary.db.paths import within_paths
from ostiary.db.session import OstiarySession
from ostiary.errors import AlreadyExists, NotFound, RuleViolation
from ostiary.text import Text

REQUIRED = ("product", "status", "starts_on")


@dataclass(frozen=True)
class ContractQuery:
    account_id: uuid.UUID | None = None
    status: ContractStatus | None = None
    visible_paths: Sequence[str] | None = None
    after_external_id: str | None = None
    limit: int = 50


class ContractService:
    def __init__(
        self,
        session: OstiarySession,
        actor: Actor,
        today: date,
        on_write: Callable[[Context, Contract, Actor], None] | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.today = today
        self.audit = AuditLog(session)
        # Told of every account a write touched, in the write's transaction (a pending
        # registration waiting for the CRM's contract).
        self.on_write = on_write
        # The accounts that this service's writes reactivated, for callers to tell.
        self.reactivated: list[Context] = []

    # -- reading -------------------------------------------------------------------------

    def find_account(self, ref: str) -> Context:
        """The account a contract names, by id or by external number."""
        context = None
        with contextlib.suppress(ValueError):
            context = self.session.get(Context, uuid.UUID(ref))
        if context is None:
            context = self.session.scalars(
                select(Context).where(Context.number == ref)
            ).one_or_none()
        if context is None:
            raise RuleViolation(
                Text("no account with id or number '{ref}'", ref=ref), field="account"
            )
        if context.type != ContextType.ACCOUNT:
            raise RuleViolation(
                Text(
                    "'{ref}' is a {type} context; contracts belong to accounts",
                    ref=ref,
                    type=context.type,
                ),
                field="account",
            )
        return context

    def find(self, external_id: str) -> Contract | None:
        return self.session.scalars(
            select(Contract).where(Contract.external_id == external_id)
        ).one_or_none()

    def get(self, external_id: str) -> Contract:
        contract = self.find(external_id)
        if contract is None:
            raise NotFound(
                Text("no contract with external id '{external_id}'", external_id=external_id),
                field="external_id",
            )
        return contract

    def search(self, query: ContractQuery) -> Sequence[Contract]:
        stmt = select(Contract).join(Context, Context.id == Contract.account_id)
        if query.account_id is not None:
            stmt = stmt.where(Contract.account_id == query.account_id)
        if query.status is not None:
            stmt = stmt.where(Contract.status == query.status)
        visible = within_paths(Context.path, query.visible_paths)
        if visible is not None:
            stmt = stmt.where(visible)
        if query.after_external_id is not None:
            stmt = stmt.where(Contract.external_id > query.after_external_id)
        stmt = stmt.order_by(Contract.external_id).limit(query.limit)
        return self.session.scalars(stmt).all()

    # -- changing ------------------------------------------------------------------------

    def create(self, data: ContractCreate, account: Context) -> Contract:
        with self.session.atomic():
            if self.find(data.external_id) is not None:
                raise AlreadyExists(
                    Text(
                        "a contract with external id '{external_id}' exists",
                        external_id=data.external_id,
                    ),
                    field="external_id",
                )
            contract = Contract(
                external_id=data.external_id,
                account_id=account.id,
                product=data.product,
                status=data.status,
                starts_on=data.starts_on,
                ends_on=data.ends_on,
                stopped_on=self.today if data.status in STOPPED else None,
            )
            self.session.add(contract)
            self.session.flush()
            self.session.refresh(contract)
            changes = data.model_dump(mode="json", exclude_none=True, exclude={"account"})
            self._record("contract.created", contract, changes | {"account_id": str(account.id)})
            self._reopen(account, contract)
        return contract

    def put(
        self, external_id: str, data: ContractFields, account: Context
    ) -> tuple[Contract, bool]:
        """Create the contract or make it what ``data`` says; True when it was created. Two
        requests racing to create it: the later one changes what the first created."""
        existing = self.find(external_id)
        if existing is None:
            try:
                fields = data.model_dump() | {"external_id": external_id}
                return self.create(ContractCreate.model_validate(fields), account), True
            except AlreadyExists as exc:
                existing = self.find(external_id)
                if exc.field != "external_id" or existing is None:
                    raise
        values = data.model_dump(exclude={"account"})
        return self._change(existing, values, account), False

    def update(self, contract: Contract, data: ContractUpdate, account: Context | None) -> Contract:
        values = {f: getattr(data, f) for f in data.model_fields_set if f != "account"}
        return self._change(contract, values, account)

    def delete(self, contract: Contract) -> None:
        with self.session.atomic():
            self._record(
                "contract.deleted",
                contract,
                {"external_id": contract.external_id, "status": contract.status},
            )
            self.session.delete(contract)

    def _change(
        self, contract: Contract, values: Mapping[str, Any], account: Context | None
    ) -> Contract:
        with self.session.atomic():
            for name in REQUIRED:
                if name in values and values[name] is None:
                    raise RuleViolation(Text("{name} cannot be empty", name=name), field=name)
            starts_on = values.get("starts_on", contract.starts_on)
            ends_on = values.get("ends_on", contract.ends_on)
            if ends_on is not None and ends_on < starts_on:
                field = "ends_on" if "ends_on" in values else "starts_on"
                raise RuleViolation(
                    Text("ends_on {end_before_start}", end_before_start=END_BEFORE_START),
                    field=field,
                )
            changes: dict[str, list[Any]] = {}
            before = contract.account
            if account is not None and account.id != contract.account_id:
                changes["account_id"] = [str(contract.account_id), str(account.id)]
                contract.account_id = account.id
                contract.account = account
            for name, new in values.items():
                old = getattr(contract, name)
                if old != new:
                    changes[name] = [_plain(old), _plain(new)]
                    setattr(contract, name, new)
            if "status" in changes:
                contract.stopped_on = self.today if contract.status in STOPPED else None
            if changes:
                self._record("contract.updated", contract, changes)
                self._reopen(contract.account, contract)
                if before is not contract.account:
                    self._reopen(before, contract)
        return contract

    # -- parts ---------------------------------------------------------------------------

    def _reopen(self, account: Context, contract: Contract) -> None:
        """Reactivate an account that the contract lifecycle suspended, once it has a running
        contract again."""
        if self.on_write is not None:
            self.on_write(account, contract, self.actor)
        if account.status != ContextStatus.SUSPENDED:
            return
        if account.suspended_by != SuspensionReason.CONTRACT:
            return
        if not has_running_contract(self.session, account.id, self.today):
            return
        if Suspensions(self.session, self.actor).reactivate(
            account,
            SuspensionReason.CONTRACT,
            self.today,
            changes={"contract": contract.external_id},
        ):
            self.reactivated.append(account)

    def _record(self, action: str, contract: Contract, changes: Mapping[str, Any]) -> None:
        self.audit.record(
            self.actor,
            action,
            target_type="contract",
            target_id=contract.id,
            context_id=contract.account_id,
            changes=changes,
        )


def has_running_contract(session: OstiarySession, account_id: uuid.UUID, today: date) -> bool:
    found = session.execute(
        select(literal(1))
        .select_from(Contract)
        .where(Contract.account_id == account_id, running_on(today))
        .limit(1)
    )
    return found.first() is not None


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value
