"""``/api/v1/contexts/{id}/branding`` and ``/api/v1/clients/{client_id}/branding``: values,
logos served inert, bad input that changes nothing, and delegated administration."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.branding.samples import PNG, SVG, smartplan
from tests.helpers import assert_problem, make_context, root_id

API = "/api/v1"
CLIENT = {
    "name": "SmartPlan for Acme",
    "public": True,
    "redirect_uris": ["https://acme.example/cb"],
    "grant_types": ["authorization_code"],
}


def _tree(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    acme = make_context(client, root_id(client), "account", "Acme", key="acme",
                        email_domains=["acme.example"])  # fmt: skip
    other = make_context(client, root_id(client), "account", "Other", key="other")
    return acme, other


def _events(client: TestClient, action: str) -> list[dict[str, Any]]:
    return list(client.get(f"{API}/audit-events", params={"action": action}).json()["items"])


def _contact_person(
    client: TestClient, runtime: Runtime, context: dict[str, Any], *rights: str
) -> TestClient:
    api_user(client, "carla", [context["id"]], domain="ENTERPRISE")
    granted: dict[str, object] = {right: True for right in ("access", *rights)}
    grant(runtime, "carla", context["key"], {**granted, "API IP Allow": "127.0.0.1/32"})
    carla = TestClient(client.app, client=("127.0.0.1", 50001))
    carla.auth = ("carla", "pw of alrac 123")
    return carla


def test_a_context_branding_is_set_read_replaced_and_removed_audited(client: TestClient) -> None:
    acme, _ = _tree(client)
    url = f"{API}/contexts/{acme['id']}/branding"
    assert_problem(client.get(url), 404, "not-found", "branding")
    put = client.put(url, json=smartplan())
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["display_name"] == "SmartPlan" and body["context_id"] == acme["id"]
    assert body["primary_color"] == "#1a5fb4" and body["text_on_primary"] == "#ffffff"
    assert body["texts"]["de"]["login_title"] == "Bei SmartPlan anmelden"
    assert body["logo_url"] is None
    assert client.get(url).json() == body
    [created] = _events(client, "branding.created")
    assert created["target_id"] == body["id"] and created["context_id"] == acme["id"]
    assert created["changes"]["display_name"] == "SmartPlan"
    replaced = client.put(url, json={"display_name": "SmartPlan Acme"}).json()
    assert replaced["primary_color"] is None and replaced["texts"] == {}
    assert len(_events(client, "branding.updated")) == 1
    assert client.delete(url).status_code == 204
    assert_problem(client.get(url), 404, "not-found")
    assert len(_events(client, "branding.deleted")) == 1


def test_a_logo_is_served_by_ostiary_inert_and_cacheable(
    client: TestClient, anonymous: TestClient
) -> None:
    acme, _ = _tree(client)
    url = f"{API}/contexts/{acme['id']}/branding"
    assert_problem(client.put(f"{url}/logo", content=PNG, headers={"content-type": "image/png"}),
                   404, "not-found", "branding")  # fmt: skip
    client.put(url, json=smartplan())
    set_logo = client.put(f"{url}/logo", content=PNG, headers={"content-type": "image/png"})
    assert set_logo.status_code == 200, set_logo.text
    logo_url = set_logo.json()["logo_url"]
    assert logo_url.startswith("http://testserver/branding/logos/") and "?v=" in logo_url
    path = logo_url.removeprefix("http://testserver")
    served = anonymous.get(path)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert "default-src 'none'" in served.headers["content-security-policy"]
    assert "immutable" in served.headers["cache-control"]
    unversioned = anonymous.get(path.split("?")[0])
    assert "immutable" not in unversioned.headers["cache-control"]
    again = anonymous.get(path, headers={"if-none-match": served.headers["etag"]})
    assert again.status_code == 304 and not again.content
    # An SVG without anything active is taken, and served so that it could run nothing.
    svg = client.put(f"{url}/logo", content=SVG, headers={"content-type": "image/svg+xml"}).json()
    served_svg = anonymous.get(svg["logo_url"].removeprefix("http://testserver"))
    assert served_svg.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in served_svg.headers["content-security-policy"]
    assert anonymous.get(path).content == SVG  # the same stable address, the new logo
    assert client.delete(f"{url}/logo").json()["logo_url"] is None
    assert anonymous.get(path).status_code == 404
    assert [e["action"] for e in _events(client, "branding.logo_set")] == ["branding.logo_set"] * 2


def test_bad_input_is_refused_by_field_and_changes_nothing(client: TestClient) -> None:
    acme, _ = _tree(client)
    url = f"{API}/contexts/{acme['id']}/branding"
    client.put(url, json=smartplan())
    client.put(f"{url}/logo", content=PNG, headers={"content-type": "image/png"})
    before = client.get(url).json()
    events = len(client.get(f"{API}/audit-events", params={"limit": 200}).json()["items"])
    assert_problem(
        client.put(url, json=smartplan(primary_color="navy")), 422, "invalid-input", "primary_color"
    )
    low = assert_problem(client.put(url, json=smartplan(accent_color="#aaaaaa")), 422, "invalid-input",
                         "accent_color")  # fmt: skip
    assert "4.5:1" in low["detail"]
    assert_problem(client.put(url, json=smartplan(support_url="http://plain.example")), 422,
                   "invalid-input", "support_url")  # fmt: skip
    assert_problem(
        client.put(url, json=smartplan(texts={"not a language": {}})), 422, "invalid-input", "texts"
    )
    assert_problem(client.put(url, json=smartplan(texts={"en": {"footer": "x" * 501}})), 422,
                   "invalid-input", "texts.en.footer")  # fmt: skip
    big = PNG + b"\x00" * (256 * 1024)
    assert_problem(client.put(f"{url}/logo", content=big, headers={"content-type": "image/png"}),
                   413, "payload-too-large", "logo")  # fmt: skip
    assert_problem(client.put(f"{url}/logo", content=b"GIF89a", headers={"content-type": "image/gif"}),
                   415, "unsupported-media-type", "logo")  # fmt: skip
    assert_problem(client.put(f"{url}/logo", content=b"<svg/>", headers={"content-type": "image/png"}),
                   422, "rule-violation", "logo")  # fmt: skip
    script = (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
    )
    refused = assert_problem(client.put(f"{url}/logo", content=script, headers={"content-type": "image/svg+xml"}),
                             422, "rule-violation", "logo")  # fmt: skip
    assert "script" in refused["detail"]
    assert client.get(url).json() == before
    after = len(client.get(f"{API}/audit-events", params={"limit": 200}).json()["items"])
    assert after == events


def test_a_contact_person_brands_their_own_account_and_no_other(
    client: TestClient, runtime: Runtime
) -> None:
    acme, other = _tree(client)
    carla = _contact_person(client, runtime, acme, "branding.manage")
    own = carla.put(f"{API}/contexts/{acme['id']}/branding", json=smartplan())
    assert own.status_code == 200, own.text
    logo = carla.put(f"{API}/contexts/{acme['id']}/branding/logo", content=PNG,
                     headers={"content-type": "image/png"})  # fmt: skip
    assert logo.status_code == 200
    for context in (other["id"], root_id(client)):
        url = f"{API}/contexts/{context}/branding"
        assert_problem(carla.put(url, json=smartplan()), 404, "not-found")
        assert_problem(carla.get(url), 404, "not-found")
        assert_problem(carla.delete(url), 404, "not-found")
        assert_problem(carla.put(f"{url}/logo", content=PNG, headers={"content-type": "image/png"}),
                       404, "not-found")  # fmt: skip
        assert_problem(client.get(url), 404, "not-found")  # nothing was made there
    refusals = _events(client, "access.out_of_reach")
    assert refusals and all(e["actor"] == "carla" for e in refusals)
    assert_problem(carla.get(f"{API}/clients/anything/branding"), 403, "forbidden")


def test_a_client_branding_needs_reach_over_the_clients_context(
    client: TestClient, runtime: Runtime
) -> None:
    acme, other = _tree(client)
    assert_problem(client.post(f"{API}/clients", json={**CLIENT, "client_id": "x", "context_id": str(uuid.uuid4())}),
                   422, "rule-violation", "context_id")  # fmt: skip
    for client_id, context in (
        ("acme-app", acme["id"]),
        ("other-app", other["id"]),
        ("shared", None),
    ):
        made = client.post(
            f"{API}/clients", json={**CLIENT, "client_id": client_id, "context_id": context}
        )
        assert made.status_code == 201, made.text
        assert made.json()["context_id"] == context
    carla = _contact_person(client, runtime, acme, "branding.manage", "clients.manage")
    own = carla.put(f"{API}/clients/acme-app/branding", json=smartplan(display_name="Acme Planner"))
    assert own.status_code == 200, own.text
    assert own.json()["client_id"] == "acme-app" and own.json()["context_id"] is None
    assert carla.get(f"{API}/clients/acme-app/branding").json()["display_name"] == "Acme Planner"
    for beyond in ("other-app", "shared"):
        assert_problem(
            carla.put(f"{API}/clients/{beyond}/branding", json=smartplan()), 404, "not-found"
        )
        assert_problem(client.get(f"{API}/clients/{beyond}/branding"), 404, "not-found", "branding")
    assert client.put(f"{API}/clients/shared/branding", json=smartplan()).status_code == 200
    assert client.delete(f"{API}/clients/acme-app/branding").status_code == 204
    assert_problem(client.get(f"{API}/clients/nope/branding"), 404, "not-found", "client_id")
