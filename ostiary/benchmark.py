"""Fill a database with many users and time user search and reads (``ostiary bench``).

The data is written with bulk inserts (COPY on PostgreSQL), but every derived column is
computed the way ``UserService`` and ``ContextService`` compute it. The timings are taken twice:
at the service layer (``search_page``, ``UserService.get``) and end to end over HTTP through
the real application, authenticated as the bootstrap administrator. See docs/benchmarks.md.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import platform
import random
import re
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Table, create_engine, func, select, text
from sqlalchemy.engine import URL, make_url

from ostiary.audit.actor import Actor
from ostiary.benchmark_http import KeepAliveClient, served
from ostiary.contexts.models import Context, ContextStatus, ContextType
from ostiary.contexts.services import ContextService, name_key
from ostiary.db.engine import make_engine
from ostiary.db.models import metadata
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from ostiary.users.models import (
    Membership,
    TwoFactor,
    User,
    UserDomain,
    UserSearchTerm,
    UserStatus,
)
from ostiary.users.schemas import DELETED_PREFIX
from ostiary.users.search import UserQuery, search_page
from ostiary.users.services import PERSONAL_FIELDS, UserService, profile_columns
from ostiary.users.terms import term_rows

SEARCH_GOAL_MS = 50.0
READ_GOAL_MS = 5.0
PAGE_SIZE = 50
# Bench-only credentials: the bench database is throw-away and reachable from 127.0.0.1 only.
BENCH_ADMIN_PASSWORD = "bench-secret-pass-1"
BENCH_SECRET_KEY = "bench-only-secret-key-never-used-in-production"

Progress = Callable[[str], None]


class BenchmarkError(Exception):
    """The benchmark cannot run on this database as it is."""


@dataclass(frozen=True)
class BenchSize:
    users: int
    contexts: int  # the root included

    def __post_init__(self) -> None:
        if self.users < 1:
            raise BenchmarkError("the benchmark needs at least 1 user")
        if self.contexts < 4:
            raise BenchmarkError("the benchmark needs at least 4 contexts (a root, a tenant, ...)")


# -- sample data -------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text.split()))


FIRST_NAMES = _words(
    "Anna Maria Laura Sarah Julia Lea Sandra Nicole Andrea Claudia Stefanie Monika Daniela "
    "Barbara Sabine Martina Nathalie Céline Chloé Léa Manon Camille Élodie Sophie Giulia "
    "Francesca Chiara Alessia Sara Elena Emma Olivia Mia Lena Hannah Zoë Noémie Ines Marta "
    "Emily Charlotte Amélie Lara Nina Vanessa Jessica Michelle Jana Selina Aline "
    "Daniel Thomas Michael Peter Andreas Christian Martin Stefan Marco Markus Patrick David "
    "Lukas Simon Reto Beat Urs Hans Jürg René Jean Pierre Luc François Nicolas Julien Olivier "
    "Étienne Luca Matteo Giuseppe Alessandro Lorenzo Davide Paolo Noah Leon Liam Elias Jonas "
    "Samuel Benjamin Tim Fabian Dominik Philipp Raphael Adrian Kevin Pascal Yves Rolf Sven "
    "Ömer Mehmet Ahmed Ali Ivan Nikola Luka Dragan Miguel José João Pedro Carlos"
)
LAST_NAMES = _words(
    "Müller Meier Schmid Keller Weber Huber Schneider Meyer Steiner Fischer Gerber Brunner "
    "Baumann Frei Zimmermann Moser Widmer Wyss Graf Roth Suter Baumgartner Kälin Bachmann "
    "Bühler Lüthi Hofmann Kunz Studer Marti Berger Egli Sutter Lehmann Wenger Vogel Frey "
    "Ammann Hess Kaufmann Koch Bieri Arnold Käser Schär Portmann Küng Ott Hug Bosshard "
    "Zürcher Bärtschi Rüegg Hürlimann Würgler Schläpfer Jäggi Dürr Blättler Gähwiler "
    "Favre Rochat Bonvin Perrin Dubois Girard Mercier Fontaine Chevalier Bertrand Rey "
    "Martin Bernard Petit Durand Leroy Moreau Simon Laurent Lefèbvre Michel Garnier Faure "
    "André Roux Vincent Morel Gauthier Müller-Lüdenscheidt Déglise Pétremand Jaccard "
    "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo "
    "Conti Costa Giordano Mancini Rizzo Lombardi Moretti Barbieri Fontana Caruso Ferri "
    "Smith Johnson Brown Taylor Wilson Davies Evans Thomas Roberts Walker Wright Robinson "
    "Thompson White Hughes Edwards Green Hall Wood Harris O'Brien McDonald D'Angelo "
    "Yılmaz Kaya Demir Şahin Çelik Öztürk Popović Jovanović Petrović Nikolić Kovačević "
    "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins García Fernández "
    "López Martínez Sánchez Pérez Gómez Nowak Kowalski Wiśniewski Novák Dvořák Horváth "
    "Nagy Szabó Tóth Kiss Jensen Nielsen Hansen Andersson Johansson Karlsson Nilsson"
)
ASCII_SPELLING = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ı": "i"})
COMPANY_WORDS = _words(
    "Alpen Aare Rhein Jura Limmat Léman Ticino Säntis Pilatus Rigi Eiger Matterhorn Gotthard "
    "Helvetia Zürichsee Bodensee Engadin Emmental Seeland Lavaux Riviera Nord Süd Ost West "
    "Blue Green Swift Bright Prime Nova Vertex Summit Crest Peak Harbor Atlas Orion Vega "
    "Lumen Terra Aqua Ignis Ferro Silva Ventus Sol Luna Stella Polaris Zenit Forum Civitas"
)
SECTORS = _words(
    "Logistik Treuhand Bau Immobilien Informatik Consulting Versicherungen Reisen Gastro "
    "Medical Pharma Energie Telecom Transport Handel Finanz Garage Druck Design Software "
    "Systems Services Solutions Partners Holding Group Industries Technologies Labs"
)
LEGAL_FORMS = ("AG", "GmbH", "SA", "Sàrl", "Ltd", "Genossenschaft", "& Co.", "")
TENANT_NAMES = (
    "Helvetia Cloud",
    "Alpine Networks",
    "Romandie Connect",
    "Ticino Digitale",
    "Basel Hosting",
    "Ostschweiz Online",
    "Zentral IT",
    "Bern Datacenter",
)
LANGUAGES = ("de-CH", "fr-CH", "it-CH", "en", "de", "fr", None)
LANGUAGE_WEIGHTS = (30, 15, 5, 15, 10, 5, 20)
USER_STATUSES = (UserStatus.ACTIVE, UserStatus.INACTIVE, UserStatus.DRAFT, UserStatus.DELETED)
USER_STATUS_WEIGHTS = (78, 10, 9, 3)
CONTEXT_STATUSES = tuple(ContextStatus)
CONTEXT_STATUS_WEIGHTS = (4, 90, 4, 2)  # pending, active, suspended, closed
TWO_FACTORS = tuple(TwoFactor)
TWO_FACTOR_WEIGHTS = (80, 2, 8, 8, 2)  # inherit, disabled, sms, email, sms+email
# Mobile number plans that phonenumbers accepts as valid: (prefix, digits that follow).
PHONE_PLANS = (("+4179", 7), ("+4178", 7), ("+4176", 7), ("+49151", 8), ("+43664", 7))
STAFF_SHARE = 0.02  # CSP users working for the operator or a tenant
SECOND_CONTEXT_SHARE = 0.35
OPERATOR_EMAIL_DOMAIN = "ostiary-ops.example"


def _zipf_cum_weights(count: int, exponent: float = 0.5) -> list[float]:
    """Cumulative weights that make the first names of a list the most common, as in life.

    With 0.5 the most common name is held by 4-5 % of the users and the most common
    three-letter prefixes ("mar", "sch") by 5-8 %: short lists are denser than life.
    """
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


def ascii_slug(text: str) -> str:
    """Letters and digits of ``text`` in lower-case ASCII, for usernames and e-mail domains."""
    spelled = unicodedata.normalize("NFKD", text.casefold().translate(ASCII_SPELLING))
    return "".join(c for c in spelled if c.isascii() and (c.isalnum() or c == "-"))


# -- the context tree --------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedContext:
    id: uuid.UUID
    type: ContextType
    path: str
    email_domain: str


@dataclass
class ContextPlan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    tenants: list[PlacedContext] = field(default_factory=list)
    accounts: list[PlacedContext] = field(default_factory=list)
    # Accounts and customers, where ENTERPRISE users live, with cumulative weights for picking.
    homes: list[PlacedContext] = field(default_factory=list)
    home_cum_weights: list[float] = field(default_factory=list)


def tree_shape(total: int) -> tuple[int, int, int, int]:
    """Tenants, top-level accounts, sub-accounts and customers for ``total`` contexts with root."""
    below = total - 1
    tenants = max(1, min(len(TENANT_NAMES), below // 1500))
    rest = below - tenants
    accounts = max(1, rest * 25 // 100)
    sub_accounts = rest * 10 // 100
    return tenants, accounts, sub_accounts, rest - accounts - sub_accounts


class ContextPlanner:
    def __init__(self, root: PlacedContext, rng: random.Random, now: datetime) -> None:
        self.root = root
        self.rng = rng
        self.now = now
        self.plan = ContextPlan()
        self._seq = itertools.count(1)

    def build(self, total: int) -> ContextPlan:
        tenants, accounts, sub_accounts, customers = tree_shape(total)
        for i in range(tenants):
            self.plan.tenants.append(self._add(self.root, ContextType.TENANT, TENANT_NAMES[i]))
        for _ in range(accounts):
            # Most accounts belong to a tenant; a few are the operator's own, under the root.
            parent = self.root if self.rng.random() < 0.05 else self.rng.choice(self.plan.tenants)
            self._add_account(parent)
        for _ in range(sub_accounts):
            self._add_account(self.rng.choice(self.plan.accounts))
        for _ in range(customers):
            self._add_home(self.rng.choice(self.plan.accounts), ContextType.CUSTOMER)
        self.plan.home_cum_weights = list(
            itertools.accumulate(min(self.rng.paretovariate(1.5), 50.0) for _ in self.plan.homes)
        )
        return self.plan

    def _add_account(self, parent: PlacedContext) -> None:
        self.plan.accounts.append(self._add_home(parent, ContextType.ACCOUNT))

    def _add_home(self, parent: PlacedContext, type_: ContextType) -> PlacedContext:
        name = " ".join(
            part
            for part in (
                self.rng.choice(COMPANY_WORDS),
                self.rng.choice(SECTORS),
                self.rng.choice(LEGAL_FORMS),
            )
            if part
        )
        placed = self._add(parent, type_, name)
        self.plan.homes.append(placed)
        return placed

    def _add(self, parent: PlacedContext, type_: ContextType, name: str) -> PlacedContext:
        seq = next(self._seq)
        context_id = uuid7()
        path = parent.path + context_id.hex + "/"  # as ContextService.create
        domain = f"{ascii_slug(name.split()[0])}-{seq}.example"
        is_tenant = type_ is ContextType.TENANT
        self.plan.rows.append(
            {
                "id": context_id,
                "key": f"{type_}-{seq:06d}",
                "type": type_.value,
                "name": name,
                "name_key": name_key(name),
                "number": None if is_tenant else f"{type_.value[0].upper()}{seq:08d}",
                "status": ContextStatus.ACTIVE.value
                if is_tenant
                else self.rng.choices(CONTEXT_STATUSES, CONTEXT_STATUS_WEIGHTS)[0].value,
                "parent_id": parent.id,
                "path": path,
                "email_domains": [domain],
                "has_access_policy": False,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        return PlacedContext(context_id, type_, path, domain)


# -- users -------------------------------------------------------------------------------


class UserFactory:
    def __init__(
        self,
        plan: ContextPlan,
        root: PlacedContext,
        domain_ids: dict[str, uuid.UUID],
        rng: random.Random,
    ) -> None:
        self.plan = plan
        self.root = root
        self.domain_ids = domain_ids
        self.rng = rng
        self._first_weights = _zipf_cum_weights(len(FIRST_NAMES))
        self._last_weights = _zipf_cum_weights(len(LAST_NAMES))
        self._seen: dict[str, int] = {}

    def make(self, now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One user row and its membership rows."""
        status = self.rng.choices(USER_STATUSES, USER_STATUS_WEIGHTS)[0]
        staff = self.rng.random() < STAFF_SHARE
        user_id = uuid7()
        row = self._base_row(user_id, status, "CSP" if staff else "ENTERPRISE", now)
        if status is UserStatus.DELETED:
            return self._anonymized(row, now), []
        contexts = self._staff_contexts() if staff else self._enterprise_contexts()
        row.update(self._person(contexts[0].email_domain))
        row.update(self._logins(status, now))
        memberships = [
            {"user_id": user_id, "context_id": c.id, "created_at": now} for c in contexts
        ]
        return row, memberships

    def _base_row(
        self, user_id: uuid.UUID, status: UserStatus, domain: str, now: datetime
    ) -> dict[str, Any]:
        return {
            "id": user_id,
            "domain_id": self.domain_ids[domain],
            "status": status.value,
            "two_factor": self.rng.choices(TWO_FACTORS, TWO_FACTOR_WEIGHTS)[0].value,
            "password_hash": None,
            "security_stamp": uuid.uuid4(),
            "first_login_at": None,
            "last_login_at": None,
            "deleted_at": None,
            "created_at": now,
            "updated_at": now,
        }

    def _anonymized(self, row: dict[str, Any], now: datetime) -> dict[str, Any]:
        """What ``UserService._anonymize`` leaves of a deleted user."""
        row["username"] = f"{DELETED_PREFIX}{row['id'].hex}"
        row.update(profile_columns(dict.fromkeys(PERSONAL_FIELDS - {"username"})))
        row["two_factor"] = TwoFactor.INHERIT.value
        row["deleted_at"] = now
        return row

    def _person(self, email_domain: str) -> dict[str, Any]:
        first = self.rng.choices(FIRST_NAMES, cum_weights=self._first_weights)[0]
        last = self.rng.choices(LAST_NAMES, cum_weights=self._last_weights)[0]
        # The n-th Anna Müller becomes anna.mueller<n>: unique, and as prefixes repeat in life.
        base = f"{ascii_slug(first)}.{ascii_slug(last)}"
        n = self._seen.get(base, 0) + 1
        self._seen[base] = n
        local = base if n == 1 else f"{base}{n}"
        email_local = ".".join(part.capitalize() for part in local.split("."))
        profile = {
            "first_name": first,
            "last_name": last,
            "email": f"{email_local}@{email_domain}",
            "phone": self._phone() if self.rng.random() < 0.65 else None,
            "language": self.rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0],
        }
        return {"username": local.lower(), **profile_columns(profile)}

    def _phone(self) -> str:
        prefix, digits = self.rng.choice(PHONE_PLANS)
        return prefix + "".join(self.rng.choices("0123456789", k=digits))

    def _logins(self, status: UserStatus, now: datetime) -> dict[str, Any]:
        if status is UserStatus.DRAFT or self.rng.random() < 0.15:
            return {}
        first = now - timedelta(days=self.rng.uniform(30, 1500))
        last = min(now, first + timedelta(days=self.rng.uniform(0, 1500)))
        return {"first_login_at": first, "last_login_at": last}

    def _enterprise_contexts(self) -> list[PlacedContext]:
        chosen = [self._home()]
        if self.rng.random() < SECOND_CONTEXT_SHARE:
            other = self._home()
            if other.id != chosen[0].id:
                chosen.append(other)
        return chosen

    def _staff_contexts(self) -> list[PlacedContext]:
        home = self.root if self.rng.random() < 0.1 else self.rng.choice(self.plan.tenants)
        chosen = [home]
        if self.rng.random() < 0.3:
            chosen.append(self.rng.choice(self.plan.accounts))
        return chosen

    def _home(self) -> PlacedContext:
        weights = self.plan.home_cum_weights
        index = bisect.bisect_right(weights, self.rng.random() * weights[-1])
        return self.plan.homes[min(index, len(weights) - 1)]


# -- filling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FillReport:
    users: int
    contexts: int
    memberships: int
    search_terms: int
    seconds: float
    reused: bool


def _table(name: str) -> Table:
    return metadata.tables[name]


def write_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, rows)
    else:
        connection.execute(table.insert(), list(rows))


def _copy_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    from psycopg import sql

    columns = list(rows[0])
    # COPY would send a Python list as an array; JSON columns need their text.
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in as_json else row[c] for c in columns])


def _counts(engine: Engine) -> tuple[int, int, int, int]:
    """Users, contexts, memberships and search terms."""
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Context, Membership, UserSearchTerm)
        )


def ensure_data(
    runtime: Runtime, size: BenchSize, *, seed: int = 1, progress: Progress | None = None
) -> FillReport:
    """Fill a freshly bootstrapped database, or reuse one an earlier run of this size filled."""
    users, contexts, *_ = _counts(runtime.engine)
    # The bootstrap created the root context and the first administrator.
    if users == size.users + 1 and contexts == size.contexts:
        # A migration since the fill may have moved many rows (search terms, say).
        analyze(runtime.engine)
        return _report(runtime.engine, 0.0, reused=True)
    if users > 1 or contexts > 1:
        raise BenchmarkError(
            f"the database holds {users} users and {contexts} contexts; the benchmark needs a "
            "database that only the bootstrap created, or one that a run with "
            f"--users {users - 1} --contexts {contexts} filled"
        )
    started = time.perf_counter()
    fill(runtime, size, seed=seed, progress=progress)
    analyze(runtime.engine)
    return _report(runtime.engine, time.perf_counter() - started, reused=False)


def _report(engine: Engine, seconds: float, *, reused: bool) -> FillReport:
    users, contexts, memberships, terms = _counts(engine)
    # Less the bootstrap administrator, their membership of the root and their username.
    return FillReport(users - 1, contexts, memberships - 1, terms - 1, seconds, reused)


def fill(
    runtime: Runtime,
    size: BenchSize,
    *,
    seed: int = 1,
    batch: int = 10_000,
    progress: Progress | None = None,
) -> None:
    """Add ``size.contexts - 1`` contexts under the root and ``size.users`` users."""
    rng = random.Random(seed)
    root, domain_ids = _bootstrapped(runtime)
    plan = ContextPlanner(root, rng, utcnow()).build(size.contexts)
    # A separate engine, so that its large page cache does not flatter the measurements.
    engine = make_engine(runtime.settings.effective_database_url)
    try:
        with engine.begin() as connection:
            _tune_for_loading(connection)
            write_rows(connection, _table("contexts"), plan.rows)
        factory = UserFactory(plan, root, domain_ids, rng)
        _fill_users(engine, factory, size.users, batch, progress)
    finally:
        engine.dispose()


def _bootstrapped(runtime: Runtime) -> tuple[PlacedContext, dict[str, uuid.UUID]]:
    with runtime.sessions() as session:
        root = ContextService(session, Actor.system()).root()
        if root is None:
            raise BenchmarkError("the database has no root context; run ostiary migrate first")
        domains = {d.name: d.id for d in session.scalars(select(UserDomain))}
    return PlacedContext(root.id, ContextType.ROOT, root.path, OPERATOR_EMAIL_DOMAIN), domains


def _tune_for_loading(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA cache_size=-524288")  # 512 MiB while loading


def _fill_users(
    engine: Engine, factory: UserFactory, count: int, batch: int, progress: Progress | None
) -> None:
    done = 0
    while done < count:
        now = utcnow()
        user_rows: list[dict[str, Any]] = []
        membership_rows: list[dict[str, Any]] = []
        terms: list[dict[str, Any]] = []
        for _ in range(min(batch, count - done)):
            row, joined = factory.make(now)
            user_rows.append(row)
            membership_rows.extend(joined)
            terms.extend(term_rows(row))
        with engine.begin() as connection:
            _tune_for_loading(connection)
            write_rows(connection, _table("users"), user_rows)
            write_rows(connection, _table("memberships"), membership_rows)
            write_rows(connection, _table("user_search_terms"), terms)
        done += len(user_rows)
        if progress is not None and (done % (batch * 10) == 0 or done == count):
            progress(f"  {done:,} of {count:,} users written")


def analyze(engine: Engine) -> None:
    """Give the query planner fresh statistics, as after any large load."""
    if engine.dialect.name == "postgresql":
        # Every table the fill wrote; VACUUM also sets the visibility map, as autovacuum would.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    # Outside a transaction, so that the checkpoint can empty the write-ahead log.
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


# -- what to ask -------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Values a console user would type or click, drawn from the data."""

    user_ids: tuple[uuid.UUID, ...]
    name_prefixes: tuple[str, ...]
    email_prefixes: tuple[str, ...]
    text_prefixes: tuple[str, ...]
    context_ids: tuple[uuid.UUID, ...]
    tenant_paths: tuple[str, ...]
    domain_ids: dict[str, uuid.UUID]
    # (name prefix, where its full first page of page_size users ended)
    second_pages: tuple[tuple[str, str], ...]
    page_size: int


def sample_workload(runtime: Runtime, count: int = 500) -> Workload:
    with runtime.sessions() as session:
        people = _people(session, count)
        context_ids = session.scalars(
            select(Membership.context_id).order_by(func.random()).limit(count)
        ).all()
        tenant_paths = session.scalars(
            select(Context.path).where(Context.type == ContextType.TENANT).order_by(Context.path)
        ).all()
        domain_ids = {d.name: d.id for d in session.scalars(select(UserDomain))}
    if not people or not context_ids:
        raise BenchmarkError("the database holds no users to search for")
    names = tuple((last if i % 2 else first)[:3] for i, (_, first, last, _) in enumerate(people))
    page_size, second_pages = _second_pages(runtime, names)
    return Workload(
        user_ids=tuple(user_id for user_id, *_ in people),
        name_prefixes=names,
        email_prefixes=tuple(email[:5] for *_, email in people),
        text_prefixes=tuple(
            first[:3] if i % 2 else email[:4] for i, (_, first, _, email) in enumerate(people)
        ),
        context_ids=tuple(context_ids),
        tenant_paths=tuple(tenant_paths),
        domain_ids=domain_ids,
        page_size=page_size,
        second_pages=second_pages,
    )


def _people(session: OstiarySession, count: int) -> list[tuple[uuid.UUID, str, str, str]]:
    """Random users with names and e-mail (not the deleted, not the administrator)."""
    rows = session.execute(
        select(User.id, User.first_name_key, User.last_name_key, User.email_key)
        .where(
            User.first_name_key.is_not(None),
            User.last_name_key.is_not(None),
            User.email_key.is_not(None),
        )
        .order_by(func.random())
        .limit(count)
    )
    return [(user_id, str(first), str(last), str(email)) for user_id, first, last, email in rows]


def _second_pages(
    runtime: Runtime, prefixes: Sequence[str]
) -> tuple[int, tuple[tuple[str, str], ...]]:
    """A page size, and name searches with a second page and where their first page ended."""
    with runtime.sessions() as session:
        # Smaller pages only where the data is too small for full pages of the usual size.
        for size in (PAGE_SIZE, 10, 2):
            pages = []
            for prefix in list(dict.fromkeys(prefixes))[:100]:
                first = search_page(session, UserQuery(name=prefix, limit=size))
                if first.next_after is not None:
                    pages.append((prefix, first.next_after))
            if pages:
                return size, tuple(pages)
    raise BenchmarkError("no name search has a second page: the data is too small")


def _pick(values: Sequence[Any], i: int) -> Any:
    return values[i % len(values)]


@dataclass(frozen=True)
class Shape:
    """One kind of search, as the service is asked and as the HTTP API is asked."""

    name: str
    query: Callable[[Workload, int], UserQuery]
    params: Callable[[Workload, int], dict[str, str]] | None
    # The HTTP level asks for the page after the one ``params`` gives, with the API's cursor.
    next_page: bool = False


FILTER_STATUSES = (UserStatus.ACTIVE, UserStatus.INACTIVE, UserStatus.DRAFT)
FILTER_DOMAINS = ("ENTERPRISE", "CSP")


SHAPES: tuple[Shape, ...] = (
    Shape(
        "name prefix",
        lambda w, i: UserQuery(name=_pick(w.name_prefixes, i)),
        lambda w, i: {"name": _pick(w.name_prefixes, i)},
    ),
    Shape(
        "e-mail prefix",
        lambda w, i: UserQuery(email=_pick(w.email_prefixes, i)),
        lambda w, i: {"email": _pick(w.email_prefixes, i)},
    ),
    Shape(
        "status filter",
        lambda w, i: UserQuery(status=_pick(FILTER_STATUSES, i)),
        lambda w, i: {"status": _pick(FILTER_STATUSES, i).value},
    ),
    Shape(
        "domain filter",
        lambda w, i: UserQuery(domain_id=w.domain_ids[_pick(FILTER_DOMAINS, i)]),
        lambda w, i: {"domain": _pick(FILTER_DOMAINS, i)},
    ),
    Shape(
        "members of a context",
        lambda w, i: UserQuery(context_id=_pick(w.context_ids, i)),
        lambda w, i: {"context": str(_pick(w.context_ids, i))},
    ),
    Shape(
        "free text q",
        lambda w, i: UserQuery(text=_pick(w.text_prefixes, i)),
        lambda w, i: {"q": _pick(w.text_prefixes, i)},
    ),
    Shape(
        "active + name prefix",
        lambda w, i: UserQuery(status=UserStatus.ACTIVE, name=_pick(w.name_prefixes, i)),
        lambda w, i: {"status": "active", "name": _pick(w.name_prefixes, i)},
    ),
    Shape(
        "name prefix, page 2",
        lambda w, i: UserQuery(
            name=_pick(w.second_pages, i)[0], after=_pick(w.second_pages, i)[1], limit=w.page_size
        ),
        lambda w, i: {"name": _pick(w.second_pages, i)[0], "limit": str(w.page_size)},
        next_page=True,
    ),
    # A tenant administrator's view; the bootstrap admin over HTTP sees everything.
    Shape(
        "name prefix, one tenant's scope",
        lambda w, i: UserQuery(
            name=_pick(w.name_prefixes, i), visible_paths=(_pick(w.tenant_paths, i),)
        ),
        None,
    ),
)


# -- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    level: str
    shape: str
    goal_ms: float | None  # None for the parts that explain a total
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_rows: float

    @property
    def met(self) -> bool:
        return self.goal_ms is None or self.p95_ms < self.goal_ms


# Runs repetition i and returns (milliseconds of the part that counts, rows returned).
Run = Callable[[int], tuple[float, int]]


def percentile(sorted_ms: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    rank = max(1, -(-len(sorted_ms) * p // 100))
    return sorted_ms[int(rank) - 1]


def measure(
    level: str, shape: str, goal_ms: float | None, run: Run, repetitions: int, warmup: int
) -> Timing:
    for i in range(warmup):
        run(i)
    samples: list[float] = []
    rows = 0
    for i in range(warmup, warmup + repetitions):
        elapsed, found = run(i)
        samples.append(elapsed)
        rows += found
    samples.sort()
    return Timing(
        level,
        shape,
        goal_ms,
        percentile(samples, 50),
        percentile(samples, 95),
        percentile(samples, 99),
        rows / repetitions,
    )


def _ms_since(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1_000_000


Probe = tuple[str, float | None, Run]


def service_runs(runtime: Runtime, workload: Workload) -> list[Probe]:
    """Each search in a session of its own, as a request would have it."""

    def search(shape: Shape) -> Run:
        def run(i: int) -> tuple[float, int]:
            query = shape.query(workload, i)
            start = time.perf_counter_ns()
            with runtime.sessions() as session:
                found = len(search_page(session, query).users)
            return _ms_since(start), found

        return run

    def read(i: int) -> tuple[float, int]:
        user_id = _pick(workload.user_ids, i)
        start = time.perf_counter_ns()
        with runtime.sessions() as session:
            UserService(session, Actor.system(), runtime.passwords).get(user_id)
        return _ms_since(start), 1

    runs: list[Probe] = [(shape.name, SEARCH_GOAL_MS, search(shape)) for shape in SHAPES]
    return [*runs, ("read by id", READ_GOAL_MS, read), (SIGN_IN, None, _sign_in(runtime))]


SIGN_IN = "API sign-in + rights check"
HTTP_FLOOR = "GET /healthz (no database)"


def _sign_in(runtime: Runtime) -> Run:
    """What every admin API request does first (``ostiary.api.v1.deps.get_caller``): the
    caller's credentials, their standing, the scope of a right."""
    from ostiary.access.admin import require
    from ostiary.access.catalogue import Right

    username, password = _admin_credentials(runtime)

    def run(_i: int) -> tuple[float, int]:
        start = time.perf_counter_ns()
        with runtime.read_sessions() as session:
            identity = runtime.basic.authenticate(session, username, password)
            actor = Actor(identity.username, "api", identity.id, "127.0.0.1")
            require(runtime.standings.of(session, identity).scope(Right.USERS_READ, actor))
        return _ms_since(start), 1

    return run


def _admin_credentials(runtime: Runtime) -> tuple[str, str]:
    password = runtime.settings.bootstrap_admin_password
    if password is None:
        raise BenchmarkError("set bootstrap_admin_password: the API is used as that admin")
    return runtime.settings.bootstrap_admin_username, password.get_secret_value()


def http_runs(client: KeepAliveClient, workload: Workload) -> list[Probe]:
    """The same questions through the admin API of a served Ostiary."""

    def get(path: str, params: dict[str, str] | None) -> tuple[float, Any]:
        start = time.perf_counter_ns()
        response = client.get(path, params=params)
        elapsed = _ms_since(start)
        if response.status_code != 200:
            raise BenchmarkError(f"GET {path} answered {response.status_code}: {response.text}")
        return elapsed, response.json()

    def search(shape: Shape) -> Run:
        assert shape.params is not None
        params = shape.params
        cursors = _next_cursors(get, shape, workload) if shape.next_page else {}

        def run(i: int) -> tuple[float, int]:
            asked = params(workload, i)
            if shape.next_page:
                asked = {**asked, "cursor": cursors[_key_of(asked)]}
            elapsed, body = get("/api/v1/users", asked)
            return elapsed, len(body["items"])

        return run

    def read(i: int) -> tuple[float, int]:
        elapsed, _ = get(f"/api/v1/users/{_pick(workload.user_ids, i)}", None)
        return elapsed, 1

    def floor(_i: int) -> tuple[float, int]:
        elapsed, _ = get("/healthz", None)
        return elapsed, 0

    runs: list[Probe] = [
        (shape.name, SEARCH_GOAL_MS, search(shape)) for shape in SHAPES if shape.params
    ]
    return [*runs, ("read by id", READ_GOAL_MS, read), (HTTP_FLOOR, None, floor)]


def _key_of(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(params.items()))


def _next_cursors(
    get: Callable[[str, dict[str, str] | None], tuple[float, Any]],
    shape: Shape,
    workload: Workload,
) -> dict[tuple[tuple[str, str], ...], str]:
    """The API's own cursor after each first page, fetched before the timing starts."""
    assert shape.params is not None
    cursors = {}
    for i in range(len(workload.second_pages)):
        asked = shape.params(workload, i)
        _, body = get("/api/v1/users", asked)
        if body["next_cursor"] is None:
            raise BenchmarkError(f"no second page over HTTP for {asked}")
        cursors[_key_of(asked)] = body["next_cursor"]
    return cursors


# -- the whole run -----------------------------------------------------------------------


@dataclass(frozen=True)
class BenchReport:
    database: str
    size: BenchSize
    fill: FillReport
    timings: list[Timing]
    repetitions: int
    warmup: int
    measured_on: date
    machine: str
    # Mean and highest one-minute load average seen while timing: other work shows here.
    load: tuple[float, float]


def bench_settings(database_url: str, data_dir: Path) -> Settings:
    """Settings for a benchmark database: a known admin password, reachable from 127.0.0.1."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=BENCH_SECRET_KEY,  # type: ignore[arg-type]
        bootstrap_admin_password=BENCH_ADMIN_PASSWORD,  # type: ignore[arg-type]
        bootstrap_admin_networks="127.0.0.1/32,::1/128",
    )


def run_benchmark(
    settings: Settings,
    size: BenchSize,
    *,
    repetitions: int = 200,
    warmup: int = 20,
    seed: int = 1,
    progress: Progress | None = None,
) -> BenchReport:
    """Bootstrap the database if needed, fill it (or reuse its data) and time the queries."""
    from ostiary.cli import prepare

    say = progress or (lambda _message: None)
    runtime = Runtime.from_settings(settings)
    try:
        prepare(runtime)
        say(f"data: {size.users:,} users across {size.contexts:,} contexts ...")
        filled = ensure_data(runtime, size, seed=seed, progress=progress)
        say("reused the existing data" if filled.reused else f"filled in {filled.seconds:.0f} s")
        say(warm_page_cache(runtime.engine))
        workload = sample_workload(runtime)
        loads: list[float] = []
        timings = _measure_levels(runtime, workload, repetitions, warmup, say, loads)
        return BenchReport(
            database=database_version(runtime.engine),
            size=size,
            fill=filled,
            timings=timings,
            repetitions=repetitions,
            warmup=warmup,
            measured_on=date.today(),
            machine=machine_summary(),
            load=(sum(loads) / len(loads), max(loads)),
        )
    finally:
        runtime.close()


def _measure_levels(
    runtime: Runtime,
    workload: Workload,
    repetitions: int,
    warmup: int,
    say: Progress,
    loads: list[float],
) -> list[Timing]:
    timings = []
    for shape, goal, run in service_runs(runtime, workload):
        say(f"service: {shape}")
        timings.append(measure("service", shape, goal, run, repetitions, warmup))
        loads.append(os.getloadavg()[0])
    # The bootstrap admin's API IP Allow admits 127.0.0.1 only.
    with served(runtime.settings) as port:
        client = KeepAliveClient(port, *_admin_credentials(runtime))
        try:
            for shape, goal, run in http_runs(client, workload):
                say(f"http: {shape}")
                timings.append(measure("http", shape, goal, run, repetitions, warmup))
                loads.append(os.getloadavg()[0])
        finally:
            client.close()
    return timings


def warm_page_cache(engine: Engine) -> str:
    """Read the whole database once, so that timing starts with it in the OS page cache.

    The figures are meant for a database that fits in memory, as it does on this machine; a
    database just filled or restored may have been written out and dropped from the cache,
    and its first reads would go to disk. Returns how it was warmed, for the report.
    """
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        assert path is not None
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
        return "database file read once before timing"
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        connection.exec_driver_sql(
            "SELECT pg_prewarm(c.oid::regclass, 'read') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
        )
    return "every table and index read once with pg_prewarm before timing"


def write_marked_block(path: Path, marker: str, text: str) -> None:
    """Put ``text`` between ``<!-- {marker}:begin -->`` and its end marker in ``path``,
    replacing what was there, or append the block when the markers are not there yet."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    block = f"{begin}\n{text}{end}"
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _match: block, current)
    else:
        updated = f"{current.rstrip()}\n\n{block}\n"
    path.write_text(updated)


def database_version(engine: Engine) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return f"PostgreSQL {connection.exec_driver_sql('SHOW server_version').scalar()}"
        return f"SQLite {connection.exec_driver_sql('select sqlite_version()').scalar()}"


def machine_summary() -> str:
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )


@contextmanager
def temporary_sqlite_url() -> Iterator[tuple[str, Path]]:
    """A throw-away SQLite database and data directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="ostiary-bench-") as directory:
        path = Path(directory)
        yield f"sqlite:///{path / 'bench.db'}", path


# -- reporting ---------------------------------------------------------------------------


def render_table(timings: Sequence[Timing]) -> str:
    lines = [
        "| level | query | p50 ms | p95 ms | p99 ms | rows | goal (p95) | |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for t in timings:
        goal = "" if t.goal_ms is None else f"< {t.goal_ms:.0f} ms"
        verdict = "" if t.goal_ms is None else "met" if t.met else "**missed**"
        lines.append(
            f"| {t.level} | {t.shape} | {t.p50_ms:.2f} | {t.p95_ms:.2f} | {t.p99_ms:.2f} "
            f"| {t.mean_rows:.0f} | {goal} | {verdict} |"
        )
    return "\n".join(lines)


def render_report(report: BenchReport) -> str:
    fill = (
        "data reused from an earlier run"
        if report.fill.reused
        else f"filled in {report.fill.seconds:.0f} s"
    )
    head = (
        f"{report.database}, {report.size.users:,} users, {report.size.contexts:,} contexts, "
        f"{report.fill.memberships:,} memberships, {report.fill.search_terms:,} search terms "
        f"({fill}); {report.repetitions} timed runs per "
        f"query after {report.warmup} warm-up runs; measured {report.measured_on.isoformat()} "
        f"on {report.machine}; one-minute load average while timing {report.load[0]:.1f} "
        f"(highest {report.load[1]:.1f})."
    )
    return f"{head}\n\n{render_table(report.timings)}\n"


def prepare_database(url: str, *, reuse: bool, prefix: str) -> None:
    """Make a benchmark's own database exist, empty unless ``reuse``. A PostgreSQL database
    is dropped and created, so its name must start with ``prefix``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite(Path(parsed.database or ""), reuse=reuse)
    else:
        _prepare_postgresql(parsed, reuse=reuse, prefix=prefix)


def _prepare_sqlite(path: Path, *, reuse: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _prepare_postgresql(url: URL, *, reuse: bool, prefix: str) -> None:
    name = url.database or ""
    if not re.fullmatch(rf"{prefix}\w*", name):
        raise BenchmarkError(
            f"refusing database '{name}': this script drops and creates its database, "
            f"so the name must start with '{prefix}'"
        )
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists and not reuse:
                connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            if not exists or not reuse:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        server.dispose()
