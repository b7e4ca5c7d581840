"""The profile on the account page: reached through a login that comes back to it; names and
language at once; a new e-mail address or phone number through the code page (or the mailed
link) after a recent sign-in; errors next to their field with what was typed; in German too."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.authn.models import BrowserSession
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.apps import app_for
from tests.authn.support import USERNAME, page_csrf, sign_in_at
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import PASSWORD, make_world
from tests.users.support import Peers, real_peers

OLD = "jeremy@city.example"
NEW = "jeremy@new.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False, "two_factor_resend_seconds": 0}


@pytest.fixture
def peers(runtime: Runtime) -> Iterator[Peers]:
    with real_peers(runtime) as found:
        yield found


@pytest.fixture
def browser(runtime: Runtime, peers: Peers) -> Iterator[TestClient]:
    make_world(runtime)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _sign_in(browser: TestClient) -> str:
    return sign_in_at(browser, "/account")


def _user(runtime: Runtime) -> User:
    with runtime.sessions() as session:
        return session.scalars(select(User).where(User.username == USERNAME)).one()


def _stale(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.atomic():
        session.execute(update(BrowserSession).values(auth_time=utcnow() - timedelta(hours=1)))


def _error(page: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]+)<', page)
    assert found, page
    return html.unescape(found.group(1))


def test_names_and_language_with_errors_next_to_the_field(
    browser: TestClient, runtime: Runtime
) -> None:
    page = _sign_in(browser)
    assert 'value="Jeremy"' in page and OLD in page
    csrf = page_csrf(page)
    bad = browser.post(
        "/account/profile",
        data={"csrf": csrf, "first_name": "Jem", "last_name": "x" * 101, "language": "de"},
    )
    assert bad.status_code == 422
    assert _error(bad.text, "last_name") == "At most 100 characters."
    # What was typed stays.
    assert 'value="Jem"' in bad.text and '<option value="de" selected>' in bad.text
    assert _user(runtime).first_name == "Jeremy"
    unknown = browser.post(
        "/account/profile",
        data={"csrf": csrf, "first_name": "Jem", "last_name": "Mills", "language": "xx"},
    )
    assert unknown.status_code == 422 and _error(unknown.text, "language")
    forged = browser.post(
        "/account/profile", data={"csrf": "forged", "first_name": "Eve", "last_name": "Mills"}
    )
    assert forged.status_code == 403 and _user(runtime).first_name == "Jeremy"
    assert "This form has expired" in forged.text
    done = browser.post(
        "/account/profile",
        data={"csrf": csrf, "first_name": "Jem", "last_name": "Mills", "language": "de"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/account"
    user = _user(runtime)
    assert (user.first_name, user.language) == ("Jem", "de")
    # The page now speaks the user's language.
    assert "Ihr Profil" in browser.get("/account").text


def test_a_new_address_by_the_code_page_after_confirming_it_is_you(
    browser: TestClient, runtime: Runtime, peers: Peers
) -> None:
    page = _sign_in(browser)
    csrf = page_csrf(page)
    _stale(runtime)
    stale = browser.get("/account").text
    assert 'action="/account/confirm"' in stale and 'action="/account/email"' not in stale
    refused = browser.post("/account/email", data={"csrf": csrf, "value": NEW})
    assert refused.status_code == 403 and peers.mails_to(NEW) == []
    wrong = browser.post("/account/confirm", data={"csrf": csrf, "secret": "not it"})
    assert wrong.status_code == 401 and _error(wrong.text, "confirm")
    assert (
        browser.post("/account/confirm", data={"csrf": csrf, "secret": PASSWORD}).status_code == 303
    )

    invalid = browser.post("/account/email", data={"csrf": csrf, "value": "not an address"})
    assert invalid.status_code == 422
    assert _error(invalid.text, "email") == "Enter a valid e-mail address."
    assert 'value="not an address"' in invalid.text
    asked = browser.post("/account/email", data={"csrf": csrf, "value": NEW})
    assert asked.status_code == 303 and asked.headers["location"] == "/account/email/verify"
    code_page = browser.get("/account/email/verify").text
    assert "j•••••@new.example" in code_page
    code = peers.code_mailed_to(NEW)
    assert peers.mails_to(OLD), "the old address was not told"
    assert NEW in browser.get("/account").text and _user(runtime).email == OLD
    assert _user(runtime).email_verified is False

    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = browser.post("/account/email/verify", data={"csrf": csrf, "code": wrong_code})
    assert bad.status_code == 422 and _error(bad.text, "code") == "The code is not correct."
    done = browser.post("/account/email/verify", data={"csrf": csrf, "code": code})
    assert done.status_code == 303 and done.headers["location"] == "/account?changed=email"
    assert "Your e-mail address is changed." in browser.get(done.headers["location"]).text
    # The code came back from the new address: it is proven.
    assert _user(runtime).email == NEW and _user(runtime).email_verified is True


def test_a_new_phone_number_by_sms(browser: TestClient, runtime: Runtime, peers: Peers) -> None:
    csrf = page_csrf(_sign_in(browser))
    bad = browser.post("/account/phone", data={"csrf": csrf, "value": "079 123"})
    assert bad.status_code == 422 and "international" in _error(bad.text, "phone")
    asked = browser.post("/account/phone", data={"csrf": csrf, "value": "+41 79 123 45 67"})
    assert asked.headers["location"] == "/account/phone/verify"
    code = peers.code_texted_to("+41791234567")
    done = browser.post("/account/phone/verify", data={"csrf": csrf, "code": code})
    assert done.status_code == 303
    assert _user(runtime).phone == "+41791234567"


def test_a_taken_address_is_said_next_to_the_field(
    browser: TestClient, runtime: Runtime, peers: Peers
) -> None:
    csrf = page_csrf(_sign_in(browser))
    with runtime.sessions() as session, session.atomic():
        from ostiary.audit.actor import Actor
        from ostiary.users.schemas import UserCreate
        from ostiary.users.services import UserService

        UserService(session, Actor("t", "cli"), runtime.passwords).create(
            UserCreate(username="other", domain="ENTERPRISE", email=NEW)
        )
    taken = browser.post("/account/email", data={"csrf": csrf, "value": NEW})
    assert taken.status_code == 409
    assert _error(taken.text, "email") == "This e-mail address cannot be used."
    assert f'value="{NEW}"' in taken.text and peers.mails_to(NEW) == []


def test_the_mailed_link_asks_before_it_changes_the_address(
    browser: TestClient, runtime: Runtime, peers: Peers
) -> None:
    csrf = page_csrf(_sign_in(browser))
    browser.post("/account/email", data={"csrf": csrf, "value": NEW})
    link = peers.link_mailed_to(NEW)
    token = link.split("token=")[1]
    # Opened in another browser, without a session: a mail scanner's GET changes nothing.
    with TestClient(app_for(runtime), client=LOCAL_CLIENT) as other:
        shown = other.get(link.replace("http://testserver", ""))
        assert shown.status_code == 200 and 'id="confirm-link"' in shown.text
        assert _user(runtime).email == OLD
        bad = other.post("/account/verify-email", data={"token": token[:-2]})
        assert bad.status_code == 410 and 'id="link-error"' in bad.text
        used = other.post("/account/verify-email", data={"token": token})
        assert used.status_code == 200 and NEW in used.text
        assert _user(runtime).email == NEW and _user(runtime).email_verified is True
        again = other.post("/account/verify-email", data={"token": token})
        assert again.status_code == 410


def test_german_pages(browser: TestClient, runtime: Runtime) -> None:
    from tests.authn.support import set_user

    set_user(runtime, language="de")
    page = _sign_in(browser)
    assert "Ihr Profil" in page and "Vorname" in page
    csrf = page_csrf(page)
    bad = browser.post("/account/email", data={"csrf": csrf, "value": "kaputt"})
    assert _error(bad.text, "email") == "Geben Sie eine gültige E-Mail-Adresse ein."


def test_delegated_users_see_their_profile_read_only(browser: TestClient, runtime: Runtime) -> None:
    from ostiary.audit.actor import Actor
    from ostiary.contexts.models import ContextType
    from ostiary.users.domains import DomainService
    from ostiary.users.schemas import DomainCreate

    page = _sign_in(browser)
    with runtime.sessions() as session, session.atomic():
        domain = DomainService(session, Actor("t", "cli")).create(
            DomainCreate(name="CORP", kind="delegated", context_types=[ContextType.ACCOUNT])  # type: ignore[arg-type]
        )
        user = session.scalars(select(User).where(User.username == USERNAME)).one()
        user.domain = domain
    shown = browser.get("/account").text
    assert 'id="profile-delegated"' in shown and 'action="/account/profile"' not in shown
    refused = browser.post(
        "/account/profile", data={"csrf": page_csrf(page), "first_name": "Eve", "last_name": "X"}
    )
    assert refused.status_code == 422 and "identity provider" in _error(refused.text, "first_name")
    assert _user(runtime).first_name == "Jeremy"


def test_a_user_whose_only_organization_is_suspended_sees_the_suspended_page(
    browser: TestClient, runtime: Runtime
) -> None:
    from ostiary.audit.actor import Actor
    from ostiary.contexts.models import Context, SuspensionReason
    from ostiary.contexts.suspension import Suspensions
    from tests.authn.support import form_fields

    def suspension(lift: bool = False) -> None:
        with runtime.sessions() as session:
            acme = session.scalars(select(Context).where(Context.key == "acme0")).one()
            suspensions = Suspensions(session, Actor("t", "cli"))
            if lift:
                suspensions.reactivate(acme, SuspensionReason.ADMINISTRATOR, utcnow().date())
            else:
                suspensions.suspend(acme, SuspensionReason.ADMINISTRATOR)

    csrf = page_csrf(_sign_in(browser))
    suspension()
    # The session that was open shows the page the login shows, and changes nothing.
    for path in (
        "/account",
        "/account/security",
        "/account/email/verify",
        "/account/password",
        "/account/organizations",
    ):
        page = browser.get(path)
        assert page.status_code == 403, path
        assert "Access to Acme 0 is suspended" in page.text and "csrf" not in page.text
    refused = browser.post(
        "/account/profile", data={"csrf": csrf, "first_name": "Eve", "last_name": "Mills"}
    )
    assert refused.status_code == 303 and _user(runtime).first_name == "Jeremy"
    # Signing in at /account anew leads to the same page.
    browser.cookies.clear()
    first = browser.get("/account")
    fields = form_fields(browser.get(first.headers["location"]).text)
    back = browser.post("/login", data={**fields, "username": USERNAME, "password": PASSWORD})
    assert back.headers["location"] == "/account"
    page = browser.get("/account")
    assert page.status_code == 403 and "Access to Acme 0 is suspended" in page.text
    # Reactivated, the account page works again.
    suspension(lift=True)
    assert browser.get("/account").status_code == 200
