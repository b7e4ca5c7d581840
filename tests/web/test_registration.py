"""Registering in the browser: a new organization or a request to join one, the address and
the phone confirmed first, errors next to the field, and what an attacker does not learn."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.contexts.models import Context
from ostiary.registrations.models import Registration
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.registrations.support import (
    OVERRIDES,
    PASSWORD,
    browser,
    code_for,
    csrf_of,
    enter_code,
    person,
    register,
    sent_to,
    submit,
)

KIM = "kim@koko.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(OVERRIDES)


def _registrations(runtime: Runtime) -> list[Registration]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Registration)).all()
        session.expunge_all()
        return list(rows)


def test_an_organization_registers_and_waits_for_approval(runtime: Runtime) -> None:
    web = browser(runtime)
    answer = submit(web, organization="KOKO Media", number="K-1", **person(KIM))
    assert answer.status_code == 303
    location = answer.headers["location"]
    page = web.get(location)
    assert 'data-field="email"' in page.text
    [mail] = sent_to(runtime, KIM, "email-verification")
    assert "/register/confirm?token=" in (mail.text or "")
    # Nothing is submitted before the address is proven.
    [row] = _registrations(runtime)
    assert row.state == "unverified"

    wrong = enter_code(web, location, "000000")
    assert wrong.status_code == 422 and 'id="code-error"' in wrong.text
    done = enter_code(web, location, code_for(runtime, KIM))
    assert done.status_code == 200 and 'id="registration-submitted"' in done.text
    with runtime.sessions() as session:
        row = session.scalars(select(Registration)).one()
        context = session.get(Context, row.context_id)
        user = session.get(User, row.user_id)
        assert row.state == "pending" and row.email_verified_at is not None
        assert context is not None and (context.status, context.number) == ("pending", "K-1")
        assert user is not None and user.status == "draft"


def test_the_link_in_the_mail_confirms_the_address(runtime: Runtime) -> None:
    web = browser(runtime)
    assert submit(web, organization="KOKO Media", **person(KIM)).status_code == 303
    [mail] = sent_to(runtime, KIM, "email-verification")
    link = re.search(r"http://testserver(/register/confirm\?token=[\w-]+)", mail.text or "")
    assert link
    assert 'id="registration-submitted"' in web.get(link.group(1)).text
    # Once.
    assert web.get(link.group(1)).status_code == 404


def test_a_phone_number_given_is_confirmed_by_sms_code_too(runtime: Runtime) -> None:
    web = browser(runtime)
    fields = person(KIM, phone="+41446681800")
    answer = submit(web, organization="KOKO Media", **fields)
    location = answer.headers["location"]
    after_email = enter_code(web, location, code_for(runtime, KIM))
    assert 'data-field="phone"' in after_email.text
    assert _registrations(runtime)[0].state == "unverified"
    sms = code_for(runtime, "+41446681800", "phone-verification")
    done = enter_code(web, location, sms)
    assert 'id="registration-submitted"' in done.text
    [row] = _registrations(runtime)
    assert row.state == "pending" and row.phone_verified_at is not None


def test_errors_are_shown_next_to_their_field_and_what_was_typed_stays(
    runtime: Runtime,
) -> None:
    web = browser(runtime)
    answer = submit(
        web,
        organization="",
        number="K-1",
        email_domains="not a domain",
        **person("not-an-address", password="short", confirmation="other"),
    )
    assert answer.status_code == 422
    for field in ("organization", "email_domains", "email", "password", "confirmation"):
        assert f'id="{field}-error"' in answer.text, field
    assert 'value="K-1"' in answer.text and 'value="Kim"' in answer.text
    assert "short" not in answer.text
    assert _registrations(runtime) == []


def test_a_form_without_its_token_changes_nothing(runtime: Runtime) -> None:
    web = browser(runtime)
    web.get("/register")
    answer = web.post(
        "/register", data={"csrf": "forged", "organization": "KOKO Media", **person(KIM)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/register"
    assert _registrations(runtime) == []
    # Nor from another browser, whose cookie the forged form cannot carry.
    other = browser(runtime)
    token = csrf_of(web.get("/register").text)
    answer = other.post("/register", data={"csrf": token, "organization": "X", **person(KIM)})
    assert answer.status_code == 303 and _registrations(runtime) == []


def test_a_used_address_shows_the_same_page_and_its_owner_is_told(
    runtime: Runtime, client: TestClient
) -> None:
    taken = client.post(
        "/api/v1/users",
        json={"username": "kim", "domain": "ENTERPRISE", "email": KIM, "status": "active"},
    )
    assert taken.status_code == 201
    web = browser(runtime)
    answer = submit(web, organization="KOKO Media", **person(KIM))
    fresh = submit(browser(runtime), organization="Other", **person("new@koko.example"))
    assert answer.status_code == fresh.status_code == 303
    page = web.get(answer.headers["location"])
    assert 'data-field="email"' in page.text
    assert sent_to(runtime, KIM, "email-verification") == []
    [notice] = sent_to(runtime, KIM, "registration-known")
    assert "/login" in (notice.text or "")
    # No code works, just like a wrong one for a real registration.
    wrong = enter_code(web, answer.headers["location"], "123456")
    assert wrong.status_code == 422 and "the code is not correct" in wrong.text
    with runtime.sessions() as session:
        assert session.scalars(select(Context).where(Context.name == "KOKO Media")).all() == []


def test_a_draft_registrant_cannot_sign_in(runtime: Runtime) -> None:
    web = browser(runtime)
    register(runtime, web, organization="KOKO Media", **person(KIM))
    api = TestClient(web.app)
    api.auth = (KIM, PASSWORD)
    assert api.get("/api/v1/me").status_code == 401
    login = web.get("/login")
    flow = re.search(r'name="flow" value="([^"]+)"', login.text)
    if flow is not None:
        answer = web.post(
            "/login",
            data={
                "flow": flow.group(1),
                "csrf": csrf_of(login.text),
                "username": KIM,
                "password": PASSWORD,
            },
        )
        assert answer.status_code != 303 or "/account" not in answer.headers.get("location", "")


def test_german_pages(runtime: Runtime) -> None:
    page = browser(runtime).get("/register", headers={"accept-language": "de"})
    assert "Ihre Organisation registrieren" in page.text


def test_registration_is_off_unless_a_parent_is_configured(runtime: Runtime) -> None:
    runtime.settings.registration_parent = ""
    page = browser(runtime).get("/register")
    assert page.status_code == 404 and 'id="registration-off"' in page.text


def test_wrong_codes_are_answered_alike_for_a_used_address_and_a_new_one(
    runtime: Runtime, client: TestClient
) -> None:
    """Many wrong codes end in "spent", then "locked", for a real registration; the page
    for an address that has an account must answer the same, or it tells that it has one."""
    taken = client.post(
        "/api/v1/users",
        json={"username": "kim", "domain": "ENTERPRISE", "email": KIM, "status": "active"},
    )
    assert taken.status_code == 201
    answers: list[list[tuple[int, str]]] = []
    for address in (KIM, "new@koko.example"):
        web = browser(runtime)
        location = submit(web, organization="KOKO Media", **person(address)).headers["location"]
        seen = []
        for _ in range(runtime.settings.two_factor_user_tries + 1):
            page = enter_code(web, location, "000000")
            error = re.search(r'id="code-error"[^>]*>([^<]*)<', page.text)
            seen.append((page.status_code, error.group(1).strip() if error else ""))
        answers.append(seen)
    known, new = answers
    assert known == new
    assert new[-1][0] == 429 and len(set(new)) >= 3  # wrong, spent, locked


def test_the_proven_address_is_verified(runtime: Runtime, client: TestClient) -> None:
    web = browser(runtime)
    answer = submit(web, organization="KOKO Media", **person(KIM))
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.email_key == KIM)).one()
        user_id, verified = user.id, user.email_verified
    assert verified is False
    assert client.get(f"/api/v1/users/{user_id}").json()["email_verified"] is False
    enter_code(web, answer.headers["location"], code_for(runtime, KIM))
    assert client.get(f"/api/v1/users/{user_id}").json()["email_verified"] is True


def test_the_services_refusals_are_said_in_german(runtime: Runtime) -> None:
    web = browser(runtime)
    web.headers["accept-language"] = "de"
    unknown = submit(web, join=True, organization="Niemand AG", **person(KIM, language="de"))
    assert unknown.status_code == 422
    assert (
        "keine Organisation nimmt unter diesem Namen oder dieser Nummer Anfragen an" in unknown.text
    )
    answer = submit(web, organization="KOKO Media", **person(KIM, language="de"))
    wrong = enter_code(web, answer.headers["location"], "000000")
    assert wrong.status_code == 422 and "der Code ist nicht richtig" in wrong.text
    bad = submit(
        web,
        organization="KOKO Media",
        **person("new@koko.example", language="de", first_name="", phone="079 123"),
    )
    assert (
        "Dieses Feld ist nötig." in bad.text or "Geben Sie mindestens ein Zeichen ein." in bad.text
    )
    assert "muss eine internationale Nummer in der Form E.164 sein" in bad.text
    assert "Enter" not in bad.text and "must be" not in bad.text


def _error(page: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert found, page
    return html.unescape(found.group(1))


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("de", "'<b>koko</b>' ist kein Domainname"),
        ("en", "'<b>koko</b>' is not a domain name"),
    ],
)
def test_a_refused_value_is_named_in_the_page_s_language(
    runtime: Runtime, language: str, said: str
) -> None:
    web = browser(runtime)
    answer = submit(
        web,
        organization="KOKO Media",
        email_domains="koko.example, <b>KOKO</b>",
        **person(KIM, language=language),
    )
    assert answer.status_code == 422
    assert _error(answer.text, "email_domains") == said
    assert "<b>koko" not in answer.text  # the typed value is escaped, never markup


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("de", "eine Organisation mit dieser Nummer ist bereits registriert"),
        ("en", "an organization with this number is registered already"),
    ],
)
def test_a_taken_number_is_refused_in_the_page_s_language(
    runtime: Runtime, language: str, said: str
) -> None:
    register(runtime, browser(runtime), organization="KOKO Media", number="K-1", **person(KIM))
    again = submit(
        browser(runtime),
        organization="KOKO Copy",
        number="K-1",
        **person("other@koko.example", language=language),
    )
    assert again.status_code == 422 and _error(again.text, "number").startswith(said)
