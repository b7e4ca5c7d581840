"""User preferences: ACLs of the category ``User Preferences`` hold per-user settings that the
user reads and writes themselves, and that never act as rights."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.test_authorization import api_user
from tests.helpers import assert_problem, make_context, root_id

PORTAL: dict[str, Any] = {
    "key": "portal",
    "name": "Customer Portal",
    "access_right": "portalAccess",
    "acls": [
        {"key": "portalAccess", "category": "Module"},
        {"key": "sim.read", "category": "SIM Cards"},
        {"key": "Invoice Footer", "category": "Billing", "type": "text"},
        {"key": "Dashboard Panels", "category": "User Preferences", "type": "text"},
        {"key": "Compact View", "category": "User Preferences", "type": "bool"},
    ],
}
EMPTY = {"Compact View": None, "Dashboard Panels": None}


def setup(client: TestClient) -> dict[str, str]:
    """The portal module, an account, and two plain API users in it without any rights."""
    assert client.post("/api/v1/modules", json=PORTAL).status_code == 201
    acme = make_context(client, root_id(client), "account", "Acme", key="acme")["id"]
    api_user(client, "alice", [acme], domain="ENTERPRISE")
    api_user(client, "carol", [acme], domain="ENTERPRISE")
    users = {u["username"]: u["id"] for u in client.get("/api/v1/users").json()["items"]}
    return {"acme": acme, "alice": users["alice"], "carol": users["carol"]}


def as_user(anonymous: TestClient, username: str) -> TestClient:
    anonymous.auth = (username, f"pw of {username[::-1]} 123")
    return anonymous


def prefs_url(user: str, module: str = "portal") -> str:
    return f"/api/v1/users/{user}/preferences/{module}"


def test_a_user_writes_and_reads_their_own_preferences(
    client: TestClient, anonymous: TestClient
) -> None:
    ids = setup(client)
    alice = as_user(anonymous, "alice")
    # Alice holds no ostiary right at all: the admin API is closed to her...
    assert_problem(alice.get("/api/v1/users"), 403, "forbidden")
    # ...but her own preferences are hers.
    empty = alice.get(prefs_url(ids["alice"]))
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"module": "portal", "values": EMPTY}

    written = alice.put(
        prefs_url(ids["alice"]), json={"values": {"Dashboard Panels": "news, tasks"}}
    )
    assert written.status_code == 200, written.text
    assert written.json() == {
        "module": "portal",
        "values": {"Compact View": None, "Dashboard Panels": "news, tasks"},
    }

    flag = alice.put(prefs_url(ids["alice"]), json={"values": {"Compact View": "TRUE"}})
    assert flag.status_code == 200, flag.text
    expected = {"Compact View": "true", "Dashboard Panels": "news, tasks"}
    assert flag.json()["values"] == expected
    assert alice.get(prefs_url(ids["alice"])).json() == {"module": "portal", "values": expected}

    # An administrator sees the same values; Carol's are untouched.
    assert client.get(prefs_url(ids["alice"])).json()["values"] == expected
    assert client.get(prefs_url(ids["carol"])).json()["values"] == EMPTY


def test_null_removes_a_preference(client: TestClient, anonymous: TestClient) -> None:
    ids = setup(client)
    alice = as_user(anonymous, "alice")
    url = prefs_url(ids["alice"])
    both = {"Dashboard Panels": "news", "Compact View": "false"}
    assert alice.put(url, json={"values": both}).json()["values"] == both

    removed = alice.put(url, json={"values": {"Dashboard Panels": None}})
    assert removed.status_code == 200, removed.text
    assert removed.json()["values"] == {"Compact View": "false", "Dashboard Panels": None}
    assert alice.get(url).json()["values"] == {"Compact View": "false", "Dashboard Panels": None}
    # Removing what is not there is fine too.
    assert alice.put(url, json={"values": {"Dashboard Panels": None}}).status_code == 200
    assert alice.get(url).json()["values"] == {"Compact View": "false", "Dashboard Panels": None}


def test_another_users_preferences_are_refused(client: TestClient, anonymous: TestClient) -> None:
    ids = setup(client)
    assert (
        client.put(
            prefs_url(ids["carol"]), json={"values": {"Dashboard Panels": "carol's"}}
        ).status_code
        == 200
    )
    alice = as_user(anonymous, "alice")

    read = alice.get(prefs_url(ids["carol"]))
    assert read.status_code in (403, 404), read.text
    assert "carol's" not in read.text
    write = alice.put(
        prefs_url(ids["carol"]), json={"values": {"Dashboard Panels": "alice was here"}}
    )
    assert write.status_code in (403, 404), write.text
    assert client.get(prefs_url(ids["carol"])).json()["values"]["Dashboard Panels"] == "carol's"

    anonymous.auth = None
    assert_problem(anonymous.get(prefs_url(ids["carol"])), 401, "unauthenticated")
    wrong = anonymous.get(prefs_url(ids["alice"]), auth=("alice", "not her password"))
    assert_problem(wrong, 401, "unauthenticated")


def test_only_preference_keys_can_be_written(client: TestClient, anonymous: TestClient) -> None:
    ids = setup(client)
    alice = as_user(anonymous, "alice")
    url = prefs_url(ids["alice"])
    assert alice.put(url, json={"values": {"Dashboard Panels": "news"}}).status_code == 200
    before = client.get("/api/v1/audit-events", params={"limit": 500}).json()["items"]

    for key, value in (
        ("portalAccess", "true"),
        ("Invoice Footer", "mine"),
        ("No Such Thing", "x"),
    ):
        response = alice.put(url, json={"values": {"Dashboard Panels": "changed", key: value}})
        problem = assert_problem(response, 422, "invalid-input", f"values.{key}")
        assert [e["field"] for e in problem["errors"]] == [f"values.{key}"]
    bad_bool = alice.put(
        url, json={"values": {"Dashboard Panels": "changed", "Compact View": "yes"}}
    )
    assert_problem(bad_bool, 422, "invalid-input", "values.Compact View")
    assert_problem(alice.put(url, json={"values": {"Compact View": True}}), 422, "invalid-input")
    assert_problem(alice.put(url, json={"Dashboard Panels": "x"}), 422, "invalid-input")

    # Nothing of the refused requests was written.
    assert alice.get(url).json()["values"] == {"Compact View": None, "Dashboard Panels": "news"}
    assert client.get("/api/v1/audit-events", params={"limit": 500}).json()["items"] == before
    # A right of the module is not turned into a preference either.
    effective = client.get(
        f"/api/v1/users/{ids['alice']}/effective-rights",
        params={"context": ids["acme"], "module": "portal"},
    ).json()
    assert effective["access"] is False and effective["rights"]["portalAccess"] is False


def test_unknown_module_is_404(client: TestClient, anonymous: TestClient) -> None:
    ids = setup(client)
    alice = as_user(anonymous, "alice")
    assert_problem(alice.get(prefs_url(ids["alice"], "nowhere")), 404, "not-found")
    assert_problem(
        alice.put(prefs_url(ids["alice"], "nowhere"), json={"values": {}}), 404, "not-found"
    )


def test_a_module_without_preferences_has_none(client: TestClient, anonymous: TestClient) -> None:
    ids = setup(client)
    alice = as_user(anonymous, "alice")
    response = alice.get(prefs_url(ids["alice"], "ostiary"))
    assert response.status_code == 200, response.text
    assert response.json() == {"module": "ostiary", "values": {}}
    refused = alice.put(prefs_url(ids["alice"], "ostiary"), json={"values": {"access": "true"}})
    assert_problem(refused, 422, "invalid-input", "values.access")


def test_preferences_are_not_rights(client: TestClient, anonymous: TestClient) -> None:
    ids = setup(client)
    alice = as_user(anonymous, "alice")
    assert (
        alice.put(
            prefs_url(ids["alice"]),
            json={"values": {"Dashboard Panels": "news", "Compact View": "true"}},
        ).status_code
        == 200
    )

    template = {
        "key": "prefs",
        "name": "Prefs",
        "rights": {"portal": {"portalAccess": True, "Dashboard Panels": "news"}},
    }
    assert_problem(
        client.post("/api/v1/acl-templates", json=template),
        422,
        "invalid-input",
        "rights.portal.Dashboard Panels",
    )
    assert_problem(client.get("/api/v1/acl-templates/prefs"), 404, "not-found")
    groups = f"/api/v1/contexts/{ids['acme']}/groups"
    group_body = {
        "name": "Compact",
        "rights": {"portal": {"portalAccess": True, "Compact View": True}},
    }
    assert_problem(
        client.post(groups, json=group_body), 422, "invalid-input", "rights.portal.Compact View"
    )
    csv_text = (
        "template,name,context_types,module,acl,value\nprefs,Prefs,,portal,Dashboard Panels,news\n"
    )
    refused = client.post(
        "/api/v1/acl-templates/import", content=csv_text, headers={"content-type": "text/csv"}
    )
    assert_problem(refused, 422, "invalid-input", "line 2")

    # Alice is given the portal through a group; her preferences still are not rights.
    group = client.post(
        groups,
        json={
            "name": "Portal users",
            "rights": {"portal": {"portalAccess": True, "sim.read": True}},
        },
    )
    assert group.status_code == 201, group.text
    assert client.put(f"{groups}/{group.json()['id']}/members/{ids['alice']}").status_code == 204
    params: dict[str, Any] = {"context": ids["acme"], "module": "portal"}
    url = f"/api/v1/users/{ids['alice']}/effective-rights"
    rights = client.get(url, params=params)
    assert rights.status_code == 200, rights.text
    assert rights.json()["access"] is True
    assert set(rights.json()["rights"]) == {"portalAccess", "sim.read", "Invoice Footer"}
    explained = client.get(url, params={**params, "explain": True}).json()
    assert set(explained["explanation"]) == {"portalAccess", "sim.read", "Invoice Footer"}

    switchable = client.get(f"/api/v1/users/{ids['alice']}/switchable-contexts").json()
    assert [(s["key"], s["modules"]) for s in switchable] == [("acme", ["portal"])]
    # And what she set is still hers.
    assert alice.get(prefs_url(ids["alice"])).json()["values"] == {
        "Compact View": "true",
        "Dashboard Panels": "news",
    }


def test_administrator_may_set_a_users_preferences(client: TestClient) -> None:
    ids = setup(client)
    response = client.put(
        prefs_url(ids["carol"]), json={"values": {"Dashboard Panels": "set by admin"}}
    )
    assert response.status_code == 200, response.text
    assert (
        client.get(prefs_url(ids["carol"])).json()["values"]["Dashboard Panels"] == "set by admin"
    )
    events = client.get("/api/v1/audit-events", params={"action": "preferences.changed"}).json()[
        "items"
    ]
    assert [(e["actor"], e["target_id"]) for e in events] == [("admin", ids["carol"])]
