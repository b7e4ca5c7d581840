"""Registering through the pages, and reading what the registrant was sent."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.messages.models import Message
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT

PASSWORD = "KOKO Media plans its energy"
OVERRIDES: dict[str, object] = {
    "message_worker": False,
    "registration_parent": "root",
    "two_factor_resend_seconds": 0,
}


def browser(runtime: Runtime) -> TestClient:
    return TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def person(email: str, **extra: str) -> dict[str, str]:
    return {
        "first_name": "Kim",
        "last_name": "Koko",
        "email": email,
        "password": PASSWORD,
        "confirmation": PASSWORD,
        "language": "en",
        **extra,
    }


def submit(web: TestClient, *, join: bool = False, **fields: str) -> Any:
    page = web.get("/register", params={"join": "true"} if join else {})
    assert page.status_code == 200, page.text
    kind = "join" if join else "organization"
    return web.post("/register", data={"csrf": csrf_of(page.text), "kind": kind, **fields})


def sent_to(runtime: Runtime, address: str, purpose: str) -> list[Message]:
    with runtime.sessions() as session:
        found = session.scalars(
            select(Message)
            .where(Message.recipient == address, Message.purpose == purpose)
            .order_by(Message.id)
        ).all()
        session.expunge_all()
        return list(found)


def code_for(runtime: Runtime, address: str, purpose: str = "email-verification") -> str:
    messages = sent_to(runtime, address, purpose)
    assert messages, f"nothing of {purpose} went to {address}"
    match = re.search(r"\b(\d{6,10})\b", messages[-1].text or "")
    assert match, messages[-1].text
    return match.group(1)


def enter_code(web: TestClient, location: str, code: str) -> Any:
    page = web.get(location)
    registration = re.search(r'name="registration" value="([^"]+)"', page.text)
    assert registration, page.text
    return web.post(
        "/register/verify",
        data={"csrf": csrf_of(page.text), "registration": registration.group(1), "code": code},
    )


def register(runtime: Runtime, web: TestClient, *, join: bool = False, **fields: str) -> Any:
    """Submit the form and confirm the address with its code: the page that follows."""
    answer = submit(web, join=join, **fields)
    assert answer.status_code == 303, answer.text
    return enter_code(web, answer.headers["location"], code_for(runtime, fields["email"]))


def registration_id(location: str) -> str:
    return location.rpartition("registration=")[2]
