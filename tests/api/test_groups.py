"""Groups of a context, their rights (direct or copied from a template), members, policies."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.helpers import assert_problem, make_context, make_user, root_id

EP = {
    "key": "ep",
    "name": "Enterprise Portal",
    "context_types": ["root", "account", "customer"],
    "access_right": "epAccess",
    "acls": [
        {"key": "epAccess", "category": "Module"},
        {"key": "sim.modify", "category": "SIM Cards"},
        {"key": "sim.read", "category": "SIM Cards"},
        {"key": "API IP Allow", "category": "API", "type": "text"},
    ],
}


def setup_ep(client: TestClient) -> dict[str, Any]:
    assert client.post("/api/v1/modules", json=EP).status_code == 201
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    return {"root": root, "acme": acme["id"]}


def groups_url(context: str) -> str:
    return f"/api/v1/contexts/{context}/groups"


def effective(client: TestClient, user: str, context: str, **params: Any) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/users/{user}/effective-rights",
        params={"context": context, "module": "ep", **params},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_group_lifecycle_and_members(client: TestClient) -> None:
    ids = setup_ep(client)
    user = make_user(client, "member", status="active", context_ids=[ids["acme"]])
    outsider = make_user(client, "outsider", status="active")

    created = client.post(
        groups_url(ids["acme"]),
        json={
            "name": "Portal users",
            "role": "portal-user",
            "rights": {"ep": {"epAccess": True, "sim.read": True}},
        },
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["rights"] == {"ep": {"epAccess": True, "sim.read": True}} and group["members"] == 0
    assert_problem(
        client.post(groups_url(ids["acme"]), json={"name": "Portal users"}),
        409,
        "already-exists",
        "name",
    )

    url = f"{groups_url(ids['acme'])}/{group['id']}"
    assert client.put(f"{url}/members/{user['id']}").status_code == 204
    assert_problem(client.put(f"{url}/members/{outsider['id']}"), 422, "rule-violation", "user_id")
    assert [u["username"] for u in client.get(f"{url}/members").json()] == ["member"]
    assert effective(client, user["id"], ids["acme"])["rights"]["sim.read"] is True

    renamed = client.patch(url, json={"name": "Readers", "role": None}).json()
    assert renamed["name"] == "Readers" and renamed["role"] is None

    assert client.delete(f"{url}/members/{user['id']}").status_code == 204
    assert effective(client, user["id"], ids["acme"])["access"] is False
    assert client.delete(url).status_code == 204
    assert_problem(client.get(url), 404, "not-found")


def test_template_values_are_copied_not_linked(client: TestClient) -> None:
    ids = setup_ep(client)
    template = {
        "key": "portal-reader",
        "name": "Portal reader",
        "context_types": ["account"],
        "rights": {"ep": {"epAccess": True, "sim.read": True}},
    }
    assert client.post("/api/v1/acl-templates", json=template).status_code == 201
    group = client.post(
        groups_url(ids["acme"]),
        json={
            "name": "From template",
            "template": "portal-reader",
            "rights": {"ep": {"sim.modify": True}},
        },
    ).json()
    assert group["rights"]["ep"] == {"epAccess": True, "sim.modify": True, "sim.read": True}

    client.patch(
        "/api/v1/acl-templates/portal-reader", json={"rights": {"ep": {"epAccess": False}}}
    )
    url = f"{groups_url(ids['acme'])}/{group['id']}"
    assert client.get(url).json()["rights"]["ep"]["sim.read"] is True

    applied = client.put(f"{url}/rights", json={"template": "portal-reader"})
    assert applied.json()["rights"] == {"ep": {"epAccess": False}}

    assert_problem(
        client.post(groups_url(ids["root"]), json={"name": "x", "template": "portal-reader"}),
        422,
        "invalid-input",
        "template",
    )
    assert_problem(
        client.post(groups_url(ids["acme"]), json={"name": "y", "template": "nope"}),
        422,
        "invalid-input",
        "template",
    )
    assert_problem(
        client.post(
            groups_url(ids["acme"]), json={"name": "z", "rights": {"ep": {"sim.read": "maybe"}}}
        ),
        422,
        "invalid-input",
        "rights.ep.sim.read",
    )
    assert [g["name"] for g in client.get(groups_url(ids["acme"])).json()] == ["From template"]


def test_policy_caps_and_can_be_cleared(client: TestClient) -> None:
    ids = setup_ep(client)
    user = make_user(client, "capped", status="active", context_ids=[ids["acme"]])
    group = client.post(
        groups_url(ids["acme"]),
        json={
            "name": "All",
            "rights": {"ep": {"epAccess": True, "sim.read": True, "sim.modify": True}},
        },
    ).json()
    client.put(f"{groups_url(ids['acme'])}/{group['id']}/members/{user['id']}")

    policy = client.put(
        f"/api/v1/contexts/{ids['acme']}/policy",
        json={"rights": {"ep": {"epAccess": True, "sim.read": True}}},
    )
    assert policy.status_code == 200 and policy.json()["active"] is True
    explained = effective(client, user["id"], ids["acme"], explain=True)
    assert explained["rights"]["sim.modify"] is False
    assert explained["explanation"]["sim.modify"]["step"] == "policy"
    assert explained["explanation"]["sim.read"] == {"value": True, "step": "e2", "group": "All"}

    assert client.delete(f"/api/v1/contexts/{ids['acme']}/policy").status_code == 204
    assert client.get(f"/api/v1/contexts/{ids['acme']}/policy").json() == {
        "context_id": ids["acme"],
        "active": False,
        "rights": {},
    }
    assert effective(client, user["id"], ids["acme"])["rights"]["sim.modify"] is True


def test_effective_rights_explain_and_roles(client: TestClient) -> None:
    ids = setup_ep(client)
    client.post(
        "/api/v1/domains",
        json={"name": "PARTNER", "kind": "delegated", "context_types": ["account"]},
    )
    fed = make_user(client, "fed", domain="PARTNER", status="active", context_ids=[ids["acme"]])
    client.post(
        groups_url(ids["acme"]),
        json={
            "name": "Mapped",
            "role": "reader",
            "rights": {"ep": {"epAccess": True, "sim.read": True}},
        },
    )
    plain = effective(client, fed["id"], ids["acme"], explain=True)
    assert plain["access"] is False and "epAccess" in plain["denial"]
    with_role = effective(client, fed["id"], ids["acme"], explain=True, roles=["reader"])
    assert with_role["access"] is True
    assert with_role["explanation"]["sim.read"] == {"value": True, "step": "e1", "group": "Mapped"}
    assert with_role["explanation"]["sim.modify"] == {"value": False, "step": "default"}
    assert "explanation" not in effective(client, fed["id"], ids["acme"])
    assert_problem(
        client.get(
            f"/api/v1/users/{fed['id']}/effective-rights",
            params={"context": ids["acme"], "module": "nope"},
        ),
        404,
        "not-found",
        "module",
    )


def test_switchable_contexts_list_open_modules(client: TestClient) -> None:
    ids = setup_ep(client)
    other = make_context(client, ids["root"], "account", "Other")
    user = make_user(client, "switcher", status="active", context_ids=[ids["acme"], other["id"]])
    group = client.post(
        groups_url(ids["acme"]), json={"name": "Portal", "rights": {"ep": {"epAccess": True}}}
    ).json()
    client.put(f"{groups_url(ids['acme'])}/{group['id']}/members/{user['id']}")
    listed = client.get(f"/api/v1/users/{user['id']}/switchable-contexts").json()
    assert [(c["name"], c["modules"]) for c in listed] == [("Acme", ["ep"]), ("Other", [])]


def test_delegated_users_are_read_only(client: TestClient) -> None:
    client.post(
        "/api/v1/domains", json={"name": "FED", "kind": "delegated", "context_types": ["account"]}
    )
    user = make_user(client, "readonly", domain="FED")
    assert_problem(
        client.patch(f"/api/v1/users/{user['id']}", json={"first_name": "X"}),
        422,
        "rule-violation",
        "first_name",
    )
    assert_problem(
        client.put(
            f"/api/v1/users/{user['id']}/password", json={"password": "a long password here"}
        ),
        422,
        "rule-violation",
        "password",
    )
    assert client.get(f"/api/v1/users/{user['id']}").json()["first_name"] is None
