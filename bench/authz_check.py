"""Time authorization checks and cold effective-rights computations on a large database.

    .venv/bin/python bench/authz_check.py --write-docs
    .venv/bin/python bench/authz_check.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/ostiary_authz_bench --write-docs

The dedicated database holds a context tree, users that are members of one or two contexts and
of up to five groups there, and one module with many ACLs whose values the groups set at random.
Without --reuse it is made anew (the SQLite file under bench/.data/ removed, the PostgreSQL
database, whose name must start with ostiary_authz_bench, dropped and created).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from ostiary.access.cache import RightsCache
from ostiary.access.decisions import Decider, Question
from ostiary.access.models import Acl, AclType, GroupMember, GroupRight, Module, UserGroup
from ostiary.access.values import API_IP_ALLOW
from ostiary.audit.actor import Actor
from ostiary.benchmark import (
    BenchmarkError,
    ContextPlanner,
    PlacedContext,
    analyze,
    bench_settings,
    database_version,
    machine_summary,
    percentile,
    warm_page_cache,
    write_marked_block,
    write_rows,
)
from ostiary.benchmark import prepare_database as shared_prepare_database
from ostiary.benchmark_http import KeepAliveClient, served
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.services import ContextService
from ostiary.db.types import utcnow, uuid7
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User, UserDomain, UserStatus

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / ".data"
DOCS = HERE.parent / "docs" / "benchmarks.md"
DEFAULT_URL = f"sqlite:///{DATA_DIR / 'authz_check.db'}"
BENCH_DATABASE_PREFIX = "ostiary_authz_bench"
MODULE_KEY = "bench"
ACCESS_RIGHT = "access"
TEXT_ACLS = 10  # API IP Allow and a few other text rights; the rest are bool
GROUPS_PER_CONTEXT = 5
CHECK_GOAL_MS = 2.0  # p99 over HTTP, one worker
COLD_GOAL_MS = 5.0  # p99
CLIENT = "127.0.0.1"

Progress = Callable[[str], None]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="default: %(default)s")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--contexts", type=int, default=100_000, help="the root included")
    parser.add_argument("--acls", type=int, default=500)
    parser.add_argument("--samples", type=int, default=2000, help="timed runs per measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep data of an earlier run")
    parser.add_argument("--no-wait", action="store_true", help="time while others benchmark")
    parser.add_argument("--fill-only", action="store_true", help="fill, then stop")
    parser.add_argument("--write-docs", action="store_true", help=f"put figures into {DOCS.name}")
    return parser.parse_args(argv)


# -- the database ------------------------------------------------------------------------


def prepare_database(url: str, *, reuse: bool) -> None:
    shared_prepare_database(url, reuse=reuse, prefix=BENCH_DATABASE_PREFIX)


@dataclass(frozen=True)
class Sizes:
    users: int
    contexts: int
    acls: int
    groups: int
    group_rights: int
    group_members: int
    memberships: int


def count_sizes(engine: Engine) -> Sizes:
    with engine.connect() as connection:

        def count(model: Any) -> int:
            return connection.scalar(select(func.count()).select_from(model)) or 0

        acls = connection.scalar(
            select(func.count()).select_from(Acl).join(Module).where(Module.key == MODULE_KEY)
        )
        return Sizes(
            count(User) - 1,  # less the bootstrap administrator
            count(Context),
            acls or 0,
            count(UserGroup) - 1,  # less the bootstrap Administrators group
            count(GroupRight),
            count(GroupMember) - 1,
            count(Membership) - 1,
        )


def ensure_data(runtime: Runtime, args: argparse.Namespace) -> tuple[Sizes, float | None]:
    """The sizes, and the seconds the fill took (None when reused)."""
    sizes = count_sizes(runtime.engine)
    if sizes.acls == args.acls and sizes.users == args.users and sizes.contexts == args.contexts:
        return sizes, None
    if sizes.users > 0 or sizes.contexts > 1:
        raise BenchmarkError("the database holds other data; run without --reuse")
    started = time.perf_counter()
    Filler(runtime, args).fill()
    say("analyze ...")
    analyze(runtime.engine)
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql(
                "VACUUM (ANALYZE) modules, acls, user_groups, group_rights, group_members"
            )
    return count_sizes(runtime.engine), time.perf_counter() - started


class Filler:
    """Bulk inserts with Core, in batches; every non-null column given, as COPY needs."""

    def __init__(self, runtime: Runtime, args: argparse.Namespace) -> None:
        self.runtime = runtime
        self.args = args
        self.rng = random.Random(args.seed)
        self.now = utcnow()
        self.acls: list[tuple[uuid.UUID, str, str]] = []  # id, key, type

    def fill(self) -> None:
        with self.runtime.sessions() as session:
            root = ContextService(session, Actor.system()).root()
            if root is None:
                raise BenchmarkError("the database has no root context")
            domain = session.scalar(select(UserDomain.id).where(UserDomain.name == "ENTERPRISE"))
        placed = PlacedContext(root.id, ContextType.ROOT, root.path, "bench.example")
        plan = ContextPlanner(placed, self.rng, self.now).build(self.args.contexts)
        engine = self.runtime.engine
        with engine.begin() as connection:
            write_rows(connection, _t("contexts"), plan.rows)
            self._module(connection)
        say(f"  {len(plan.rows):,} contexts, module with {len(self.acls)} ACLs")
        groups = self._groups(engine, [row["id"] for row in plan.rows])
        self._users(engine, [home.id for home in plan.homes], groups, domain)

    def _module(self, connection: Any) -> None:
        module_id = uuid7()
        write_rows(
            connection,
            _t("modules"),
            [
                {
                    "id": module_id,
                    "key": MODULE_KEY,
                    "name": "Benchmark module",
                    "context_types": [],
                    "access_right": ACCESS_RIGHT,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            ],
        )
        texts = [API_IP_ALLOW] + [f"text.{i:02d}" for i in range(1, TEXT_ACLS)]
        bools = [ACCESS_RIGHT] + [f"right.{i:03d}" for i in range(1, self.args.acls - TEXT_ACLS)]
        rows = []
        for key in bools + texts:
            kind = AclType.TEXT if key in texts else AclType.BOOL
            acl_id = uuid7()
            self.acls.append((acl_id, key, kind.value))
            rows.append(
                {
                    "id": acl_id,
                    "module_id": module_id,
                    "key": key,
                    "category": "Bench",
                    "type": kind.value,
                    "description": None,
                }
            )
        write_rows(connection, _t("acls"), rows)

    def _value(self, key: str, kind: str) -> str:
        if key == API_IP_ALLOW:
            return f"10.{self.rng.randrange(256)}.0.0/16, {CLIENT}/32"
        if kind == AclType.TEXT:
            return f"value-{self.rng.randrange(1000)}"
        return "true" if self.rng.random() < 0.6 else "false"

    def _groups(self, engine: Engine, contexts: Sequence[uuid.UUID]) -> dict[uuid.UUID, list]:
        by_context: dict[uuid.UUID, list[uuid.UUID]] = {}
        access = self.acls[0]
        others = self.acls[1:]
        batch = 5_000
        for start in range(0, len(contexts), batch):
            group_rows, right_rows = [], []
            for context_id in contexts[start : start + batch]:
                ids = by_context.setdefault(context_id, [])
                for n in range(GROUPS_PER_CONTEXT):
                    group_id = uuid7()
                    ids.append(group_id)
                    group_rows.append(
                        {
                            "id": group_id,
                            "context_id": context_id,
                            "name": f"Group {n + 1}",
                            "role": None,
                            "created_at": self.now,
                            "updated_at": self.now,
                        }
                    )
                    chosen = self.rng.sample(others, self.rng.randint(5, 25))
                    if self.rng.random() < 0.9:
                        chosen.append(access)
                    right_rows.extend(
                        {"group_id": group_id, "acl_id": a, "value": self._value(k, t)}
                        for a, k, t in chosen
                    )
            with engine.begin() as connection:
                write_rows(connection, _t("user_groups"), group_rows)
                write_rows(connection, _t("group_rights"), right_rows)
            if (start // batch) % 4 == 3:
                say(f"  groups of {start + batch:,} contexts written")
        return by_context

    def _users(
        self,
        engine: Engine,
        homes: Sequence[uuid.UUID],
        groups: dict[uuid.UUID, list[uuid.UUID]],
        domain: uuid.UUID | None,
    ) -> None:
        count, batch = self.args.users, 20_000
        rng = self.rng
        for start in range(0, count, batch):
            users, members, group_members = [], [], []
            for i in range(start, min(count, start + batch)):
                user_id = uuid7()
                status = UserStatus.ACTIVE if rng.random() < 0.95 else UserStatus.INACTIVE
                users.append(
                    {
                        "id": user_id,
                        "username": f"bench{i:07d}",
                        "domain_id": domain,
                        "status": status.value,
                        "two_factor": "inherit",
                        "security_stamp": uuid.uuid4(),
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                )
                places = [rng.choice(homes)]
                if rng.random() < 0.35:
                    other = rng.choice(homes)
                    if other != places[0]:
                        places.append(other)
                budget = rng.randint(1, 5)  # groups in all of the user's contexts together
                for n, context_id in enumerate(places):
                    members.append(
                        {"user_id": user_id, "context_id": context_id, "created_at": self.now}
                    )
                    take = budget if n == len(places) - 1 else rng.randint(0, budget)
                    budget -= take
                    group_members.extend(
                        {"group_id": g, "user_id": user_id}
                        for g in rng.sample(groups[context_id], take)
                    )
            with engine.begin() as connection:
                write_rows(connection, _t("users"), users)
                write_rows(connection, _t("memberships"), members)
                write_rows(connection, _t("group_members"), group_members)
            if (start // batch) % 10 == 9 or start + batch >= count:
                say(f"  {min(count, start + batch):,} of {count:,} users written")


def _t(name: str) -> Any:
    from ostiary.db.models import metadata

    return metadata.tables[name]


# -- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    level: str
    what: str
    goal_ms: float | None
    p50: float
    p95: float
    p99: float
    samples: int
    statements: float | None = None  # SQL statements per run, where counted

    @property
    def met(self) -> bool:
        return self.goal_ms is None or self.p99 < self.goal_ms


def summarize(
    level: str,
    what: str,
    goal: float | None,
    samples: list[float],
    statements: float | None = None,
) -> Timing:
    ordered = sorted(samples)
    return Timing(
        level,
        what,
        goal,
        percentile(ordered, 50),
        percentile(ordered, 95),
        percentile(ordered, 99),
        len(ordered),
        statements,
    )


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


@dataclass(frozen=True)
class Pair:
    user: uuid.UUID
    context: uuid.UUID
    right: str


def sample_pairs(runtime: Runtime, count: int, seed: int) -> list[Pair]:
    """Random memberships of active users (not the administrator), each with a random right."""
    with runtime.sessions() as session:
        keys = session.scalars(
            select(Acl.key).join(Module).where(Module.key == MODULE_KEY).order_by(Acl.key)
        ).all()
        rows = session.execute(
            select(Membership.user_id, Membership.context_id)
            .join(User, User.id == Membership.user_id)
            .where(User.status == UserStatus.ACTIVE, User.username.like("bench%"))
            .order_by(func.random())
            .limit(count)
        ).all()
    rng = random.Random(seed)
    return [Pair(u, c, rng.choice(keys)) for u, c in rows]


def other_benchmarks() -> list[str]:
    mine = {os.getpid(), os.getppid()}  # the parent: a shell that started this run
    found = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [
        line.strip()
        for line in found.splitlines()[1:]
        if re.search(r"bench/|ostiary bench", line)
        and int(line.split()[0]) not in mine
        and "uvicorn" not in line
    ]


def wait_for_quiet(progress: Progress) -> None:
    while running := other_benchmarks():
        progress(f"waiting for other benchmarks to end: {running[0][:100]}")
        time.sleep(20)


def cold_runs(runtime: Runtime, pairs: Sequence[Pair], loads: list[float]) -> list[Timing]:
    """A fresh cache per measurement: every (user, context) is computed, not looked up."""
    counter = StatementCounter(runtime.engine)
    cache = RightsCache(direct_user_rights=runtime.settings.direct_user_rights)
    with runtime.sessions() as session:
        user = session.get(User, pairs[0].user)
        context = session.get(Context, pairs[0].context)
        cache.effective(session, user, context, MODULE_KEY)  # the module catalogue, once
    effective, with_loading, catalogue = [], [], []
    statements = 0
    for pair in pairs:
        start = time.perf_counter_ns()
        with runtime.sessions() as session:
            user = session.get(User, pair.user)
            context = session.get(Context, pair.context)
            begin = time.perf_counter_ns()
            before = counter.count
            cache.effective(session, user, context, MODULE_KEY)
            effective.append(_ms(begin))
            statements += counter.count - before
        with_loading.append(_ms(start))
    loads.append(os.getloadavg()[0])
    for pair in pairs[:100]:
        fresh = RightsCache(direct_user_rights=runtime.settings.direct_user_rights)
        with runtime.sessions() as session:
            user = session.get(User, pair.user)
            context = session.get(Context, pair.context)
            begin = time.perf_counter_ns()
            fresh.effective(session, user, context, MODULE_KEY)
            catalogue.append(_ms(begin))
    event.remove(runtime.engine, "before_cursor_execute", counter._seen)
    return [
        summarize(
            "service",
            "cold effective rights (RightsCache.effective, catalogue cached)",
            COLD_GOAL_MS,
            effective,
            statements / len(pairs),
        ),
        summarize(
            "service", "cold, with loading user and context in a new session", None, with_loading
        ),
        summarize("service", "cold, with the module catalogue loaded too", None, catalogue),
    ]


def service_runs(runtime: Runtime, pairs: Sequence[Pair], loads: list[float]) -> list[Timing]:
    """``Decider.answer`` as the endpoint calls it, one session per check, cache warm."""
    counter = StatementCounter(runtime.engine)

    def ask(pair: Pair) -> float:
        start = time.perf_counter_ns()
        with runtime.sessions() as session:
            Decider(session, runtime.rights, None).answer(_question(pair))
        return _ms(start)

    for pair in pairs:
        ask(pair)
    before = counter.count
    samples = [ask(pair) for pair in pairs]
    statements = (counter.count - before) / len(pairs)
    loads.append(os.getloadavg()[0])
    event.remove(runtime.engine, "before_cursor_execute", counter._seen)
    return [summarize("service", "check (Decider.answer), warm", None, samples, statements)]


def _question(pair: Pair) -> Question:
    return Question(str(pair.user), str(pair.context), MODULE_KEY, pair.right, CLIENT)


def _ms(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1_000_000


def http_runs(runtime: Runtime, pairs: Sequence[Pair], loads: list[float]) -> list[Timing]:
    settings = runtime.settings
    password = settings.bootstrap_admin_password
    assert password is not None
    with served(settings) as port:
        client = KeepAliveClient(
            port, settings.bootstrap_admin_username, password.get_secret_value()
        )

        def check(pair: Pair) -> float:
            body = {"checks": [_question(pair).__dict__]}
            start = time.perf_counter_ns()
            response = client.post("/api/v1/authz/check", body)
            elapsed = _ms(start)
            if response.status_code != 200:
                raise BenchmarkError(
                    f"authz/check answered {response.status_code}: {response.text}"
                )
            return elapsed

        def floor() -> float:
            start = time.perf_counter_ns()
            client.get("/healthz")
            return _ms(start)

        try:
            for _ in range(50):
                floor()
            cold = [check(pair) for pair in pairs]
            warm = [check(pair) for pair in pairs]
            loads.append(os.getloadavg()[0])
            floors = [floor() for _ in pairs]
        finally:
            client.close()
    return [
        summarize("http", "POST /api/v1/authz/check, one check, warm", CHECK_GOAL_MS, warm),
        summarize("http", "the same, first check of each pair (cold)", None, cold),
        summarize("http", "GET /healthz (no database)", None, floors),
    ]


# -- reporting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    database: str
    sizes: Sizes
    fill_seconds: float | None
    timings: list[Timing]
    load: tuple[float, float]
    others: list[str]  # benchmarks that ran while this one timed
    measured_on: date
    machine: str


def render(report: Report, wanted: argparse.Namespace) -> str:
    s = report.sizes
    fill = (
        "data reused" if report.fill_seconds is None else f"filled in {report.fill_seconds:.0f} s"
    )
    short = (
        ""
        if (s.users, s.contexts, s.acls) == (1_000_000, 100_000, 500)
        else " **Smaller than the issue's 1,000,000 users / 100,000 contexts / 500 ACLs.**"
    )
    head = (
        f"{report.database}; {s.users:,} users, {s.contexts:,} contexts, {s.memberships:,} "
        f"memberships, one module with {s.acls} ACLs ({TEXT_ACLS} text, {API_IP_ALLOW} among "
        f"them), {s.groups:,} groups ({GROUPS_PER_CONTEXT} per context) with {s.group_rights:,} "
        f"right values, {s.group_members:,} group memberships (1-5 per user) ({fill}).{short} "
        f"{wanted.samples} random (user, context, right) per row; server: uvicorn, one worker; "
        f"client: one keep-alive http.client connection in another process. Measured "
        f"{report.measured_on.isoformat()} on {report.machine}; one-minute load average while "
        f"timing {report.load[0]:.1f} (highest {report.load[1]:.1f})."
    )
    if report.others:
        head += (
            f" **Timed while another benchmark ran ({'; '.join(report.others)}) on the same "
            "2 CPUs: the figures are inflated by it.**"
        )
    lines = [
        "| level | what | p50 ms | p95 ms | p99 ms | SQL / run | goal (p99) | |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for t in report.timings:
        goal = "" if t.goal_ms is None else f"< {t.goal_ms:.0f} ms"
        verdict = "" if t.goal_ms is None else "met" if t.met else "**missed**"
        sql = "" if t.statements is None else f"{t.statements:.1f}"
        lines.append(
            f"| {t.level} | {t.what} | {t.p50:.2f} | {t.p95:.2f} | {t.p99:.2f} | {sql} "
            f"| {goal} | {verdict} |"
        )
    return f"{head}\n\n" + "\n".join(lines) + "\n"


def update_docs(backend: str, block_text: str, path: Path = DOCS) -> None:
    write_marked_block(path, f"authz:{backend}", block_text)


def main(argv: list[str] | None = None) -> int:
    from ostiary.cli import prepare

    args = parse_args(argv)
    url = str(bench_settings(args.database_url, DATA_DIR).effective_database_url)
    try:
        prepare_database(url, reuse=args.reuse)
        runtime = Runtime.from_settings(bench_settings(url, DATA_DIR))
        try:
            prepare(runtime)
            say(f"data: {args.users:,} users, {args.contexts:,} contexts, {args.acls} ACLs ...")
            sizes, seconds = ensure_data(runtime, args)
            say("reused the data" if seconds is None else f"filled in {seconds:.0f} s")
            if args.fill_only:
                return 0
            say(warm_page_cache(runtime.engine))
            pairs = sample_pairs(runtime, args.samples, args.seed)
            if not args.no_wait:
                wait_for_quiet(say)
            others = other_benchmarks()
            loads: list[float] = []
            say("timing cold computations ...")
            timings = cold_runs(runtime, pairs, loads)
            say("timing the service ...")
            timings += service_runs(runtime, pairs, loads)
            say("timing over HTTP ...")
            timings += http_runs(runtime, pairs, loads)
            report = Report(
                database_version(runtime.engine),
                sizes,
                seconds,
                timings,
                (sum(loads) / len(loads), max(loads)),
                [re.sub(r"^\d+\s+(\S*/)?", "", o) for o in others],
                date.today(),
                machine_summary(),
            )
            backend = runtime.engine.dialect.name
        finally:
            runtime.close()
    except BenchmarkError as exc:
        say(f"error: {exc}")
        return 1
    block = render(report, args)
    print(block)
    if args.write_docs:
        update_docs(backend, block)
        say(f"figures written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
