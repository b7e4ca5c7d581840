"""``/api/v1/message-templates``: list, read, replace, delete, preview; checks at save time."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, root_id

URL = "/api/v1/message-templates"
SMS_DE = f"{URL}/second-factor-code/de/sms"
MAIL_EN = f"{URL}/second-factor-code/en/email"
LOCAL_ONLY = {"API IP Allow": "127.0.0.1/32"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


def mail(**parts: Any) -> dict[str, Any]:
    return {
        "subject": "Code {{ code }}",
        "text": "Your code is {{ code }}.",
        "html": "<p>Your code is <b>{{ code }}</b>.</p>",
        **parts,
    }


def test_purposes_list_their_channels_and_variables(client: TestClient) -> None:
    purposes = {p["key"]: p for p in client.get(f"{URL}/purposes").json()}
    code = purposes["second-factor-code"]
    assert code["channels"] == ["email", "sms"]
    variables = {v["name"]: v["sample"] for v in code["variables"]}
    assert variables["code"] == "482913" and {"name", "username", "site_url"} <= set(variables)
    assert purposes["password-reset"]["channels"] == ["email"]


def test_the_instance_lists_shipped_defaults_and_customised_ones(client: TestClient) -> None:
    listed = client.get(URL, params={"purpose": "second-factor-code"}).json()
    assert {(t["language"], t["channel"], t["source"]) for t in listed} == {
        ("de", "email", "default"),
        ("de", "sms", "default"),
        ("en", "email", "default"),
        ("en", "sms", "default"),
    }
    default = client.get(SMS_DE).json()
    assert default["source"] == "default" and default["updated_at"] is None
    assert default["text"].startswith("{{ code }} ist Ihr Anmeldecode")

    created = client.put(SMS_DE, json={"text": "Code: {{ code }} ({{ minutes }} Min.)"})
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "instance" and created.json()["context_id"] is None
    replaced = client.put(SMS_DE, json={"text": "Ihr Code: {{ code }}"})
    assert replaced.status_code == 200 and replaced.json()["text"] == "Ihr Code: {{ code }}"
    listed = client.get(URL, params={"language": "de", "channel": "sms"}).json()
    sources = {t["purpose"]: t["source"] for t in listed}
    assert sources["second-factor-code"] == "instance"
    assert sources["phone-verification"] == "default"

    # A language Ostiary does not ship.
    assert (
        client.put(f"{URL}/second-factor-code/FR-ch/sms", json={"text": "{{ code }}"}).json()[
            "language"
        ]
        == "fr-ch"
    )
    effective = client.get(f"{URL}/second-factor-code/fr/sms", params={"effective": True})
    assert effective.json()["language"] == "en" and effective.json()["source"] == "default"
    assert_problem(client.get(f"{URL}/second-factor-code/fr/sms"), 404, "not-found")

    assert client.delete(SMS_DE).status_code == 204
    assert client.get(SMS_DE).json()["source"] == "default"
    assert_problem(client.delete(SMS_DE), 404, "not-found")

    actions = [
        e["action"]
        for e in client.get("/api/v1/audit-events", params={"limit": 10}).json()["items"]
        if e["action"].startswith("message_template.")
    ]
    assert actions == [
        "message_template.deleted",
        "message_template.created",
        "message_template.updated",
        "message_template.created",
    ]


def test_templates_that_do_not_render_are_refused_naming_the_field(client: TestClient) -> None:
    body = assert_problem(
        client.put(MAIL_EN, json=mail(html="<p>{{ cod }}</p>")), 422, "invalid-input", "html"
    )
    assert "unknown variable 'cod'" in body["detail"]
    assert body["errors"] == [{"field": "html", "message": body["errors"][0]["message"]}]
    body = assert_problem(
        client.put(MAIL_EN, json=mail(subject="{% if code %}", text="{{ link }}")),
        422,
        "invalid-input",
        "subject",
    )
    assert [e["field"] for e in body["errors"]] == ["subject", "text"]
    assert_problem(client.put(MAIL_EN, json=mail(subject=None)), 422, "invalid-input", "subject")
    assert_problem(
        client.put(SMS_DE, json={"text": "{{ code }}", "html": "<p></p>"}),
        422,
        "invalid-input",
        "html",
    )
    assert_problem(
        client.put(f"{URL}/password-reset/en/sms", json={"text": "{{ link }}"}),
        422,
        "invalid-input",
        "channel",
    )
    assert_problem(
        client.put(f"{URL}/password-reset/en/fax", json={"text": "x"}),
        422,
        "invalid-input",
        "channel",
    )
    assert_problem(
        client.put(f"{URL}/nothing/en/sms", json={"text": "x"}), 404, "not-found", "purpose"
    )
    assert_problem(
        client.put(f"{URL}/invitation/english!/email", json=mail()),
        422,
        "invalid-input",
        "language",
    )
    assert_problem(client.put(MAIL_EN, json={**mail(), "footer": "x"}), 422, "invalid-input")
    # Nothing was stored.
    assert client.get(MAIL_EN).json()["source"] == "default"


def test_preview_renders_drafts_and_the_template_that_applies(client: TestClient) -> None:
    applied = client.post(f"{MAIL_EN}/preview", json={}).json()
    assert applied["subject"] == "Your sign-in code: 482913" and applied["source"] == "default"
    assert "Hello Jane Doe," in applied["text"]
    draft = client.post(
        f"{MAIL_EN}/preview",
        json={"template": mail(), "variables": {"code": "<777>", "name": "Al"}},
    ).json()
    assert draft["subject"] == "Code <777>" and draft["text"] == "Your code is <777>.\n"
    assert draft["html"] == "<p>Your code is <b>&lt;777&gt;</b>.</p>\n"
    assert_problem(
        client.post(f"{MAIL_EN}/preview", json={"template": mail(text="{{ nope }}")}),
        422,
        "invalid-input",
        "text",
    )
    assert_problem(
        client.post(f"{MAIL_EN}/preview", json={"variables": {"nope": "1"}}),
        422,
        "invalid-input",
        "variables.nope",
    )
    fallback = client.post(f"{URL}/second-factor-code/de-at/sms/preview", json={}).json()
    assert fallback["language"] == "de" and fallback["text"].startswith("482913 ist Ihr")


def test_context_templates_and_who_may_change_what(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    shop = make_context(client, acme["id"], "customer", "Acme Shop", key="acme-shop")
    other = make_context(client, root, "account", "Other", key="other")
    api_user(client, "acmeadmin", [acme["id"]])
    grant(runtime, "acmeadmin", "acme", {"access": True, "messages.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("acmeadmin", "pw of nimdaemca 123")

    at_acme = {"context": acme["id"]}
    created = anonymous.put(SMS_DE, params=at_acme, json={"text": "Acme: {{ code }}"})
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "context" and created.json()["context_id"] == acme["id"]
    assert [t["purpose"] for t in anonymous.get(URL, params=at_acme).json()] == [
        "second-factor-code"
    ]
    effective = anonymous.get(SMS_DE, params={"context": shop["id"], "effective": True}).json()
    assert effective["text"] == "Acme: {{ code }}" and effective["context_id"] == acme["id"]
    assert_problem(anonymous.get(SMS_DE, params={"context": shop["id"]}), 404, "not-found")
    preview = anonymous.post(f"{SMS_DE}/preview", params={"context": shop["id"]}, json={})
    assert preview.json()["text"] == "Acme: 482913"

    # The instance's templates: readable, but changed only from the root.
    assert anonymous.get(SMS_DE).status_code == 200
    assert_problem(anonymous.put(SMS_DE, json={"text": "{{ code }}"}), 403, "forbidden")
    assert_problem(anonymous.delete(SMS_DE), 403, "forbidden")
    # Another organization's: as if absent.
    assert_problem(
        anonymous.put(SMS_DE, params={"context": other["id"]}, json={"text": "{{ code }}"}),
        404,
        "not-found",
    )
    assert_problem(
        client.put(SMS_DE, params={"context": root}, json={"text": "{{ code }}"}),
        422,
        "rule-violation",
        "context",
    )
    assert anonymous.delete(SMS_DE, params=at_acme).status_code == 204

    api_user(client, "plain", [acme["id"]])
    grant(runtime, "plain", "acme", {"access": True, "users.read": True, **LOCAL_ONLY})
    anonymous.auth = ("plain", "pw of nialp 123")
    assert_problem(anonymous.get(URL), 403, "forbidden")
