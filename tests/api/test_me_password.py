"""Changing one's own password through the API, and administrators seeing and clearing a
user's throttling."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.authn.models import BrowserSession
from ostiary.authn.password_change import PasswordChanges
from ostiary.authn.sessions import SessionService
from ostiary.protocols.oidc.models import Grant
from ostiary.runtime import Runtime
from ostiary.users.models import User, UserDomain
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import assert_problem, make_user

NEW = "a completely new passphrase"


def admin(runtime: Runtime) -> User:
    with runtime.sessions() as session:
        return session.scalars(select(User).where(User.username == "admin")).one()


def sessions_of(runtime: Runtime, user: User, count: int) -> list:  # type: ignore[type-arg]
    """Browser sessions of the user, each with a grant standing on it."""
    from datetime import timedelta

    from ostiary.clients.models import Client
    from ostiary.db.types import utcnow

    made = []
    with runtime.sessions() as session, session.atomic():
        client = Client(client_id="app", name="app", redirect_uris=[], public=True)
        session.add(client)
        for _ in range(count):
            fresh = session.get(User, user.id)
            browser, _ = SessionService(session, runtime.settings).start(
                fresh, amr=["pwd"], actor=Actor("admin", "web")
            )
            session.flush()
            session.add(
                Grant(
                    client_id=client.id,
                    user_id=user.id,
                    session_id=browser.id,
                    expires_at=utcnow() + timedelta(days=1),
                )
            )
            made.append(browser.id)
    return made


def test_change_my_password(client: TestClient, runtime: Runtime) -> None:
    me = admin(runtime)
    browsers = sessions_of(runtime, me, 2)
    answer = client.post(
        "/api/v1/me/password",
        json={"current_password": ADMIN_PASSWORD, "new_password": NEW},
    )
    assert answer.status_code == 204, answer.text
    assert client.get("/api/v1/users").status_code == 401
    client.auth = ("admin", NEW)
    assert client.get("/api/v1/users").status_code == 200
    with runtime.sessions() as session:
        user = session.get(User, me.id)
        assert user is not None and user.security_stamp != me.security_stamp
        for browser_id in browsers:
            browser = session.get(BrowserSession, browser_id)
            assert browser is not None and browser.ended_at is not None
        assert all(g.revoked_at for g in session.scalars(select(Grant)))
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.password_changed")
        ).one()
        assert event.changes["other_sessions_ended"] == 2


def test_keeping_the_other_sessions(client: TestClient, runtime: Runtime) -> None:
    me = admin(runtime)
    [kept] = sessions_of(runtime, me, 1)
    answer = client.post(
        "/api/v1/me/password",
        json={"current_password": ADMIN_PASSWORD, "new_password": NEW, "end_other_sessions": False},
    )
    assert answer.status_code == 204
    with runtime.sessions() as session:
        browser = session.get(BrowserSession, kept)
        assert browser is not None and SessionService(session, runtime.settings).alive(browser)
        assert all(g.revoked_at is None for g in session.scalars(select(Grant)))


def test_the_session_the_change_comes_from_lives_on(runtime: Runtime) -> None:
    me = admin(runtime)
    current, other = sessions_of(runtime, me, 2)
    with runtime.sessions() as session:
        user = session.get(User, me.id)
        assert user is not None
        ended = PasswordChanges(runtime, session, Actor("admin", "api")).change(
            user, ADMIN_PASSWORD, NEW, current_session_id=current
        )
        assert ended == 1
        service = SessionService(session, runtime.settings)
        assert service.alive(session.get(BrowserSession, current))  # type: ignore[arg-type]
        assert not service.alive(session.get(BrowserSession, other))  # type: ignore[arg-type]
        grants = {g.session_id: g.revoked_at for g in session.scalars(select(Grant))}
        assert grants[current] is None and grants[other] is not None


def test_wrong_current_or_weak_new_password(client: TestClient, runtime: Runtime) -> None:
    body = assert_problem(
        client.post(
            "/api/v1/me/password",
            json={"current_password": "not my password", "new_password": NEW},
        ),
        422,
        "invalid-input",
        "current_password",
    )
    assert body["errors"][0]["rule"] == "current"
    body = assert_problem(
        client.post(
            "/api/v1/me/password",
            json={"current_password": ADMIN_PASSWORD, "new_password": "qwertyqwerty"},
        ),
        422,
        "invalid-input",
        "new_password",
    )
    assert body["errors"][0]["rule"] == "common_password"
    assert_problem(
        client.post(
            "/api/v1/me/password",
            json={"current_password": ADMIN_PASSWORD, "new_password": ADMIN_PASSWORD},
        ),
        422,
        "invalid-input",
        "new_password",
    )
    assert client.get("/api/v1/users").status_code == 200  # unchanged


def test_guessing_the_current_password_is_throttled(client: TestClient) -> None:
    for _ in range(5):
        client.post("/api/v1/me/password", json={"current_password": "guess", "new_password": NEW})
    throttled = client.post(
        "/api/v1/me/password",
        json={"current_password": ADMIN_PASSWORD, "new_password": NEW},
    )
    assert_problem(throttled, 429, "throttled")
    assert int(throttled.headers["retry-after"]) >= 1


def test_administrators_see_and_clear_a_users_throttling(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    user = make_user(client, "rosa", domain="CSP", password="a ship named fiddle")
    client.post(f"/api/v1/users/{user['id']}/activate")
    quiet = client.get(f"/api/v1/users/{user['id']}/sign-in-throttle").json()
    assert quiet == {"user_id": user["id"], "throttled_until": None, "failures": 0, "kinds": []}
    for _ in range(6):
        anonymous.get("/api/v1/users", auth=("rosa", "a wrong guess"))
    state = client.get(f"/api/v1/users/{user['id']}/sign-in-throttle").json()
    assert state["failures"] == 6 and state["throttled_until"] is not None
    assert [k["kind"] for k in state["kinds"]] == ["password"]
    assert client.delete(f"/api/v1/users/{user['id']}/sign-in-throttle").status_code == 204
    assert client.get(f"/api/v1/users/{user['id']}/sign-in-throttle").json()["failures"] == 0
    events = client.get("/api/v1/audit-events", params={"target": user["id"]}).json()["items"]
    assert {"sign_in.throttled", "sign_in.throttle_cleared"} <= {e["action"] for e in events}
    assert anonymous.get("/api/v1/users", auth=("rosa", "a ship named fiddle")).status_code in (
        200,
        403,
    )


def test_delegated_users_change_their_password_elsewhere(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.atomic():
        session.add(UserDomain(name="SSO", kind="delegated", context_types=["root"]))
        session.flush()
        user = session.scalars(select(User).where(User.username == "admin")).one()
        user.domain = session.scalars(select(UserDomain).where(UserDomain.name == "SSO")).one()
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == "admin")).one()
        try:
            PasswordChanges(runtime, session, Actor("admin", "api")).change(
                user, ADMIN_PASSWORD, NEW
            )
        except Exception as exc:  # noqa: BLE001
            assert "identity provider" in str(exc)
        else:  # pragma: no cover
            raise AssertionError("a delegated user changed a password here")
