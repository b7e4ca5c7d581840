"""``/account/password``: the password changes through the service of the API, with the
policy's messages by the field; the other sessions end, this one lives on."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from ostiary.users.models import DomainKind, User, UserDomain
from tests.web import account_support
from tests.web.account_support import new_browser, open_signed_in
from tests.web.console.support import PASSWORD

# The fixtures of the account pages.
settings_overrides = account_support.settings_overrides
world = account_support.world
browser = account_support.browser

NEW = "A brand new and long passphrase 7"


def _hash(runtime: Runtime, username: str = "jeremy") -> str | None:
    with runtime.sessions() as session:
        return session.scalars(select(User.password_hash).where(User.username == username)).one()


def test_change_the_password_ends_the_other_sessions(browser: TestClient, world: Runtime) -> None:
    page, csrf = open_signed_in(browser, "/account/password")
    assert 'aria-current="page"' in page and 'id="account-nav-password"' in page
    assert "your other sessions end" in page
    with new_browser(world) as other:
        open_signed_in(other, "/account")
        answer = browser.post(
            "/account/password",
            data={
                "csrf": csrf,
                "current_password": PASSWORD,
                "new_password": NEW,
                "confirmation": NEW,
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/account/password?done=changed"
        assert "Your password is changed." in browser.get(answer.headers["location"]).text
        # This browser stays signed in; the other one must sign in again.
        assert browser.get("/account").status_code == 200
        assert other.get("/account").status_code == 303
    assert world.passwords.verify(_hash(world), NEW)


def test_a_wrong_current_password_and_a_weak_new_one_by_the_field(
    browser: TestClient, world: Runtime
) -> None:
    before = _hash(world)
    _, csrf = open_signed_in(browser, "/account/password")
    wrong = browser.post(
        "/account/password",
        data={"csrf": csrf, "current_password": "nope", "new_password": NEW, "confirmation": NEW},
    )
    assert wrong.status_code == 422
    assert 'id="current_password-error">This is not your current password.' in wrong.text
    weak = browser.post(
        "/account/password",
        data={
            "csrf": csrf,
            "current_password": PASSWORD,
            "new_password": "short",
            "confirmation": "short",
        },
    )
    assert weak.status_code == 422 and 'id="new_password-error">Use at least' in weak.text
    mismatch = browser.post(
        "/account/password",
        data={
            "csrf": csrf,
            "current_password": PASSWORD,
            "new_password": NEW,
            "confirmation": NEW + "!",
        },
    )
    assert mismatch.status_code == 422 and 'id="confirmation-error"' in mismatch.text
    assert _hash(world) == before


def test_a_forged_form_is_refused_and_changes_nothing(browser: TestClient, world: Runtime) -> None:
    before = _hash(world)
    open_signed_in(browser, "/account/password")
    forged = browser.post(
        "/account/password",
        data={
            "csrf": "forged",
            "current_password": PASSWORD,
            "new_password": NEW,
            "confirmation": NEW,
        },
    )
    assert forged.status_code == 403
    assert _hash(world) == before


def test_in_german(browser: TestClient) -> None:
    open_signed_in(browser, "/account/password")
    german = browser.get("/account/password", headers={"accept-language": "de"}).text
    assert "Aktuelles Passwort" in german and "Sitzungen" in german
    assert 'lang="de"' in german


def test_a_delegated_user_is_sent_to_their_identity_provider(
    browser: TestClient, world: Runtime
) -> None:
    _, csrf = open_signed_in(browser, "/account/password")
    with world.sessions() as session, session.atomic():
        domain = UserDomain(name="PARTNER", kind=DomainKind.DELEGATED, context_types=["account"])
        session.add(domain)
        session.flush()
        user = session.scalars(select(User).where(User.username == "jeremy")).one()
        user.domain_id = domain.id
    page = browser.get("/account/password").text
    assert 'id="password-delegated"' in page and 'id="change-password"' not in page
    before = _hash(world)
    refused = browser.post(
        "/account/password",
        data={"csrf": csrf, "current_password": PASSWORD, "new_password": NEW, "confirmation": NEW},
    )
    assert refused.status_code == 422 and _hash(world) == before
    assert "identity provider keeps your password" in refused.text
