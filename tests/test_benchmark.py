"""The benchmark's fill and measurement code, run on a tiny database so that it cannot rot.

Only what the code produces is checked here, never how fast it was.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select

from ostiary.benchmark import SHAPES, BenchSize, ensure_data, run_benchmark
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.services import name_key
from ostiary.db.engine import make_engine
from ostiary.db.session import OstiarySession, make_session_factory
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from ostiary.users.models import (
    Membership,
    User,
    UserDomain,
    UserSearchTerm,
    UserStatus,
    search_terms,
)
from ostiary.users.schemas import check_email, check_phone, check_username
from ostiary.users.search import UserQuery, search_page

USERS = 300
CONTEXTS = 20


def test_benchmark_fills_a_tiny_database_and_its_searches_find_users(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/b.db",
        argon2_memory_cost_kib=1024,
        argon2_time_cost=1,
        bootstrap_admin_password="bench-secret-pass-1",  # type: ignore[arg-type]
        bootstrap_admin_networks="127.0.0.1/32",
    )

    report = run_benchmark(settings, BenchSize(USERS, CONTEXTS), repetitions=3, warmup=1)

    assert (report.fill.users, report.fill.contexts, report.fill.reused) == (USERS, CONTEXTS, False)
    found = {(t.level, t.shape): t.mean_rows for t in report.timings}
    for shape in SHAPES:
        assert found[("service", shape.name)] > 0, shape.name
        if shape.params is not None:
            assert found[("http", shape.name)] == found[("service", shape.name)], shape.name
    assert found[("service", "read by id")] == found[("http", "read by id")] == 1

    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine)() as session:
        _check_contexts(session)
        _check_users(session)
        _check_search(session)
    engine.dispose()

    runtime = Runtime.from_settings(settings)
    assert ensure_data(runtime, BenchSize(USERS, CONTEXTS)).reused
    runtime.close()


def _check_contexts(session: OstiarySession) -> None:
    contexts = {c.id: c for c in session.scalars(select(Context))}
    assert len(contexts) == CONTEXTS
    for context in contexts.values():
        assert context.name_key == name_key(context.name)
        if context.parent_id is not None:
            assert context.path == contexts[context.parent_id].path + context.id.hex + "/"
    assert Counter(c.type for c in contexts.values()).keys() == set(ContextType)


def _check_users(session: OstiarySession) -> None:
    users = session.scalars(select(User).where(User.username != "admin")).all()
    assert len(users) == USERS
    types_of = _context_types_by_user(session)
    terms_of = _terms_by_user(session)
    for user in users:
        assert terms_of.get(user.id, set()) == search_terms(user)
        if user.status == UserStatus.DELETED:
            assert user.email_key is None and user.deleted_at is not None
            assert user.id not in types_of
            continue
        assert check_username(user.username) == user.username
        assert user.email is not None and check_email(user.email) == user.email
        assert user.email_key == user.email.casefold()
        assert user.first_name and user.first_name_key == user.first_name.casefold()
        assert user.last_name and user.last_name_key == user.last_name.casefold()
        assert user.phone is None or check_phone(user.phone) == user.phone
        assert 1 <= len(types_of[user.id]) <= 2
        if user.domain.name == "ENTERPRISE":
            assert set(types_of[user.id]) <= {ContextType.ACCOUNT, ContextType.CUSTOMER}
    statuses = Counter(u.status for u in users)
    assert statuses[UserStatus.ACTIVE] > statuses[UserStatus.INACTIVE] > 0
    assert {d.name for d in session.scalars(select(UserDomain))} >= {"CSP", "ENTERPRISE"}


def _context_types_by_user(session: OstiarySession) -> dict[object, list[str]]:
    rows = session.execute(
        select(Membership.user_id, Context.type).join(Context, Context.id == Membership.context_id)
    )
    types: dict[object, list[str]] = {}
    for user_id, type_ in rows:
        types.setdefault(user_id, []).append(type_)
    return types


def _terms_by_user(session: OstiarySession) -> dict[object, set[tuple[str, str]]]:
    terms: dict[object, set[tuple[str, str]]] = {}
    for row in session.scalars(select(UserSearchTerm)):
        terms.setdefault(row.user_id, set()).add((row.term, row.field))
    return terms


def _check_search(session: OstiarySession) -> None:
    someone = session.scalars(
        select(User)
        .where(User.status == UserStatus.ACTIVE, User.last_name_key.is_not(None))
        .order_by(User.username)
        .limit(1)
    ).one()
    prefix = str(someone.last_name_key)[:3]
    found = search_page(session, UserQuery(name=prefix, limit=USERS)).users
    assert someone in found
    assert all(
        (u.first_name_key or "").startswith(prefix) or (u.last_name_key or "").startswith(prefix)
        for u in found
    )
