"""What the contract lifecycle will do to an account, told ahead of time: the outlook agrees
with what the check then does."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.contexts.models import Context
from ostiary.contracts.lifecycle import Outlook, outlook
from ostiary.runtime import Runtime
from tests.contracts.test_lifecycle import TODAY, account, check, day, put, state

GRACE = 14


def _outlook(runtime: Runtime, context: dict[str, object], today: object = TODAY) -> Outlook | None:
    with runtime.sessions() as session:
        found = session.scalars(
            select(Context).where(Context.id == uuid.UUID(str(context["id"])))
        ).one()
        return outlook(session, found, today, GRACE)  # type: ignore[arg-type]


def test_the_day_of_suspension_is_the_one_the_check_suspends_on(
    client: TestClient, runtime: Runtime
) -> None:
    ending = account(client, "A-1")
    put(client, "C-1", "A-1", ends_on=day(-3))
    foreseen = _outlook(runtime, ending)
    assert foreseen == Outlook("suspend", day(-3 + GRACE + 1), day(-3))
    assert check(runtime, day(-4 + GRACE + 1), GRACE) == []
    assert state(client, ending) == ("active", None)
    assert check(runtime, foreseen.on, GRACE) != []
    assert state(client, ending) == ("suspended", "contract")
    # Suspended by the check, nothing more is foreseen until a contract runs again.
    assert _outlook(runtime, ending, foreseen.on) is None
    # A contract that starts later: on that day the next check reactivates the account.
    put(client, "C-1b", "A-1", starts_on=day(30))
    assert state(client, ending) == ("suspended", "contract")
    assert _outlook(runtime, ending, day(30)) == Outlook("reactivate", day(30))
    check(runtime, day(30), GRACE)
    assert state(client, ending) == ("active", None)


def test_long_overdue_is_today_and_a_running_contract_foresees_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    overdue, running, bare = account(client, "A-2"), account(client, "A-3"), account(client, "A-4")
    put(client, "C-2", "A-2", ends_on=day(-60))
    put(client, "C-3", "A-3")
    assert _outlook(runtime, overdue) == Outlook("suspend", TODAY, day(-60))
    assert _outlook(runtime, running) is None
    assert _outlook(runtime, bare) is None
