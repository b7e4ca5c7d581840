"""The sign-in pages over HTTP in a customer's branding: from their application, from their
e-mail domain, kept on the pages after the password, texts escaped; and the branded second
factor e-mail through a real SMTP conversation."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.branding.schemas import BrandingIn
from ostiary.branding.services import BrandingService, Owner
from ostiary.clients.models import Client
from ostiary.contexts.models import Context
from ostiary.messages.models import Message
from ostiary.messages.outbox import MessageWorker
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.authn.support import USERNAME, enter, form_fields
from tests.branding.samples import PNG, smartplan
from tests.conftest import LOCAL_CLIENT
from tests.messages.servers import smtp_server
from tests.protocols.oidc.conftest import PASSWORD, make_client, make_world
from tests.protocols.oidc.test_attacks import authorize_params

ACTOR = Actor("test", "cli")
EMAIL = "jeremy@city.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime, contexts=2)
    make_client(runtime, "spa")
    make_client(runtime, "acme-app", redirect_uris=["http://127.0.0.1:9/callback"])
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _brand(runtime: Runtime, *, context: str | None = None, client: str | None = None, logo: bool = True,
           **values: Any) -> str:  # fmt: skip
    """Brand a context (by key) or a client; the logo's address."""
    with runtime.sessions() as session:
        owner = Owner(
            context=session.scalars(select(Context).where(Context.key == context)).one() if context else None,
            client=session.scalars(select(Client).where(Client.client_id == client)).one() if client else None,
        )  # fmt: skip
        service = BrandingService(session, ACTOR)
        service.put(owner, BrandingIn.model_validate(smartplan(**values)))
        if not logo:
            return ""
        row = service.put_logo(owner, PNG, "image/png", 10_000)
        return f"/branding/logos/{row.id}?v={row.logo_digest[:16]}"  # type: ignore[index]


def _set(runtime: Runtime, model: Any, where: Any, **values: Any) -> None:
    with runtime.sessions() as session, session.atomic():
        session.execute(update(model).where(where).values(**values))


def _login_page(browser: TestClient, **extra: str) -> tuple[str, dict[str, str]]:
    first = browser.get("/oauth2/authorize", params=authorize_params(**extra))
    assert first.status_code in (302, 303), first.text
    page = browser.get(first.headers["location"])
    assert page.status_code == 200
    return page.text, form_fields(page.text)


def _shows(page: str, logo: str, name: str = "SmartPlan") -> None:
    assert f'<span class="brand-name" id="brand-name">{name}</span>' in page
    assert f'src="{html.escape(logo)}"' in page and f'alt="{name}"' in page
    assert "background: #1a5fb4; color: #ffffff" in page  # white text on the primary colour
    assert "a { color: #0b5394; }" in page
    assert 'href="https://support.smartplan.example/help"' in page
    assert "SmartPlan AG, Zurich" in page


def _unbranded(page: str) -> None:
    assert 'id="brand"' not in page and "SmartPlan" not in page and "brand-colours" not in page


def test_a_login_from_the_customers_application_shows_their_branding(
    browser: TestClient, runtime: Runtime
) -> None:
    logo = _brand(runtime, context="acme0")
    unbranded, _ = _login_page(browser)  # "spa" belongs to no context
    _unbranded(unbranded)
    _set(runtime, Client, Client.client_id == "acme-app", context_id=_context_id(runtime, "acme0"))
    page, _ = _login_page(browser, client_id="acme-app")
    _shows(page, logo)
    assert "<h1>Sign in to SmartPlan</h1>" in page and "Plan smarter." in page
    # German where the branding has it, English where it has not, the pages' own words else.
    german, _ = _login_page(browser, client_id="acme-app", ui_locales="de")
    assert "<h1>Bei SmartPlan anmelden</h1>" in german and "SmartPlan AG, Zurich" in german
    assert "Passwort" in german and "Hilfe und Support" in german
    # The application's own branding comes before its context's.
    own = _brand(runtime, client="acme-app", display_name="Acme Planner")
    page, _ = _login_page(browser, client_id="acme-app")
    _shows(page, own, "Acme Planner")


def test_a_typed_e_mail_domain_brands_the_login_and_the_later_pages_keep_it(
    browser: TestClient, runtime: Runtime
) -> None:
    logo = _brand(runtime, context="acme0")
    _set(runtime, Context, Context.key == "acme0", email_domains=["city.example"])
    runtime.settings.two_factor = "email"
    page, fields = _login_page(browser)
    _unbranded(page)
    # A wrong password: the page again, in the branding of the domain typed, with what was typed.
    wrong = browser.post("/login", data={**fields, "username": EMAIL, "password": "not it"})
    assert wrong.status_code == 401
    _shows(wrong.text, logo)
    assert f'value="{EMAIL}"' in wrong.text
    # The login hint of the application is an address typed for the user.
    hinted, _ = _login_page(browser, login_hint=EMAIL)
    _shows(hinted, logo)
    # The right one: the second factor page, then the context chooser, keep the branding.
    done = browser.post("/login", data={**fields, "username": EMAIL, "password": PASSWORD})
    assert done.headers["location"].startswith("/login/second-factor")
    factor = browser.get(done.headers["location"])
    assert "Confirm it" in factor.text
    _shows(factor.text, logo)
    [mail] = _messages(runtime)
    assert mail.sender_name == "SmartPlan"
    assert mail.html and logo in mail.html and "#1a5fb4" in mail.html
    assert mail.text and mail.text.rstrip().endswith("https://support.smartplan.example/help")
    code = re.search(r"\b(\d{6})\b", mail.text).group(1)  # type: ignore[union-attr]
    chooser = enter(browser, fields, code)
    assert chooser.headers["location"].startswith("/login/context")
    context_page = browser.get(chooser.headers["location"])
    assert "Acme 1" in context_page.text
    _shows(context_page.text, logo)


def test_the_applications_branding_is_not_replaced_by_a_typed_domain(
    browser: TestClient, runtime: Runtime
) -> None:
    _brand(runtime, context="acme1", logo=False, display_name="Other Customer")
    _set(runtime, Context, Context.key == "acme1", email_domains=["city.example"])
    logo = _brand(runtime, client="spa")
    _, fields = _login_page(browser)
    wrong = browser.post("/login", data={**fields, "username": EMAIL, "password": "not it"})
    _shows(wrong.text, logo)
    assert "Other Customer" not in wrong.text


def test_branding_texts_and_names_render_inert(browser: TestClient, runtime: Runtime) -> None:
    attack = "<script>alert(document.cookie)</script>"
    _brand(runtime, client="spa", display_name=f'"><img src=x onerror=alert(1)>{attack}',
           texts={"en": {"login_title": attack, "welcome": attack, "footer": attack}})  # fmt: skip
    page, _ = _login_page(browser)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page
    assert page.count("&lt;script&gt;") >= 4


def test_the_forgot_page_keeps_the_logins_branding_and_its_mail_carries_it(
    browser: TestClient, runtime: Runtime
) -> None:
    logo = _brand(runtime, client="spa")
    _, fields = _login_page(browser)
    forgot = browser.get(f"/login/forgot?flow={fields['flow']}")
    _shows(forgot.text, logo)
    sent = browser.post("/login/forgot", data={"identifier": USERNAME, "flow": fields["flow"]})
    _shows(sent.text, logo)
    [mail] = _messages(runtime, "password-reset")
    assert mail.sender_name == "SmartPlan" and logo in (mail.html or "")
    # The link's page: the branding of the user's contexts (none here), as a mail alone knows.
    link = re.search(r"http://testserver(/login/reset\?token=\S+)", mail.text or "").group(1)  # type: ignore[union-attr]
    _unbranded(browser.get(link).text)


def test_the_branded_code_travels_over_smtp(browser: TestClient, runtime: Runtime) -> None:
    logo = _brand(runtime, client="spa")
    runtime.settings.two_factor = "email"
    runtime.settings.mail_from = "Ostiary <login@smartplan.example>"
    with smtp_server() as (port, mailbox):
        runtime.settings.smtp_url = SecretStr(f"smtp://127.0.0.1:{port}")
        _, fields = _login_page(browser)
        browser.post("/login", data={**fields, "username": USERNAME, "password": PASSWORD})
        assert MessageWorker(runtime).run_once().sent == 1
    [received] = mailbox.received
    message: EmailMessage = received.message
    assert parseaddr(str(message["From"])) == ("SmartPlan", "login@smartplan.example")
    assert received.mail_from == "login@smartplan.example"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    body = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "\n-- \nSmartPlan\n" in text
    assert f'src="http://testserver{html.escape(logo)}"' in body and 'alt="SmartPlan"' in body
    assert "background:#1a5fb4;color:#ffffff" in body
    assert 'href="https://support.smartplan.example/help" style="color:#0b5394"' in body
    code = re.search(r"\b(\d{6})\b", text).group(1)  # type: ignore[union-attr]
    assert enter(browser, fields, code).headers["location"].startswith("/login/context")


def _context_id(runtime: Runtime, key: str) -> Any:
    with runtime.sessions() as session:
        return session.scalars(select(Context.id).where(Context.key == key)).one()


def _messages(runtime: Runtime, purpose: str = "second-factor-code") -> list[Message]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(Message).where(Message.purpose == purpose).order_by(Message.id))
        )


def test_pages_of_a_known_user_outside_a_login_show_their_contexts_branding(
    browser: TestClient, runtime: Runtime
) -> None:
    # Jeremy belongs to acme0 and acme1: the branding above both is the instance's.
    _brand(runtime, context="acme0", display_name="Acme Zero", logo=False)
    logo = _brand(runtime, context="root", display_name="City Services")
    first = browser.get("/account/security")
    login = browser.get(first.headers["location"])
    _shows(login.text, logo, "City Services")
    fields = form_fields(login.text)
    done = browser.post("/login", data={**fields, "username": USERNAME, "password": PASSWORD})
    account = browser.get(done.headers["location"])
    assert account.status_code == 200 and "Acme Zero" not in account.text
    _shows(account.text, logo, "City Services")
