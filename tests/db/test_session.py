"""Reading sessions are handed out again after their ``with`` block (``ReusingSessionmaker``),
with nothing of the earlier block left in them."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from ostiary.contexts.models import Context
from ostiary.db.session import MAX_IDLE_SESSIONS, OstiarySession
from ostiary.runtime import Runtime


def _pooled_connections(runtime: Runtime) -> int:
    return int(runtime.read_sessions.kw["bind"].pool.checkedout())


def test_a_session_that_read_nothing_is_handed_out_again_with_its_info_emptied(
    runtime: Runtime,
) -> None:
    with runtime.read_sessions() as first:
        first.info["left behind"] = True
    with runtime.read_sessions() as second:
        assert second is first
        assert "left behind" not in second.info


def test_a_session_that_read_is_closed_first_its_objects_detached_and_its_connection_back(
    runtime: Runtime,
) -> None:
    idle_before = _pooled_connections(runtime)
    with runtime.read_sessions() as session:
        root = session.scalars(select(Context).where(Context.parent_id.is_(None))).first()
        assert root is not None
        assert _pooled_connections(runtime) == idle_before + 1
    assert inspect(root).detached
    assert _pooled_connections(runtime) == idle_before
    with runtime.read_sessions() as again:
        assert again is session
        assert not again.in_transaction() and not again.identity_map


def test_a_block_that_failed_leaves_a_session_that_serves_the_next_one(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.read_sessions() as session:
        session.execute(text("SELECT 1"))
        raise RuntimeError("the block failed")
    with runtime.read_sessions() as again:
        assert again is session
        assert again.execute(text("SELECT 2")).scalar_one() == 2


def test_sessions_open_at_once_are_distinct(runtime: Runtime) -> None:
    with runtime.read_sessions() as outer, runtime.read_sessions() as inner:
        assert outer is not inner


def test_the_idle_list_is_bounded(runtime: Runtime) -> None:
    opened: list[OstiarySession] = [runtime.read_sessions() for _ in range(MAX_IDLE_SESSIONS + 5)]
    for session in opened:
        session.__exit__(None, None, None)
    handed_out = [runtime.read_sessions() for _ in range(MAX_IDLE_SESSIONS + 5)]
    assert len({id(s) for s in handed_out} & {id(s) for s in opened}) == MAX_IDLE_SESSIONS


def test_writing_sessions_are_not_reused(runtime: Runtime) -> None:
    with runtime.sessions() as first:
        pass
    with runtime.sessions() as second:
        assert second is not first
