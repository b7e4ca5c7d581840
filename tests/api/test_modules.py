"""``/api/v1/modules``: modules, their ACL catalogue, who may read and change them."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, make_user, root_id

MODULES = "/api/v1/modules"
LOCAL_ONLY = {"API IP Allow": "127.0.0.1/32"}

PORTAL: dict[str, Any] = {
    "key": "portal",
    "name": "Customer Portal",
    "context_types": ["root", "account"],
    "access_right": "portalAccess",
    "acls": [
        {"key": "portalAccess", "category": "Module", "description": "Open the portal at all"},
        {"key": "sim.read", "category": "SIM Cards"},
        {"key": "sim.modify", "category": "SIM Cards", "type": "bool"},
        {"key": "Invoice Footer", "category": "Billing", "type": "text"},
        {"key": "API IP Allow", "category": "API", "type": "text"},
        {"key": "Dashboard Panels", "category": "User Preferences", "type": "text"},
    ],
}


def create_portal(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post(MODULES, json={**PORTAL, **changes})
    assert response.status_code == 201, response.text
    return dict(response.json())


def acls_of(module: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ACLs by key, without their key (the order of the list is not part of the contract)."""
    return {acl["key"]: {k: v for k, v in acl.items() if k != "key"} for acl in module["acls"]}


def module_keys(client: TestClient) -> set[str]:
    response = client.get(MODULES)
    assert response.status_code == 200, response.text
    return {m["key"] for m in response.json()}


def audit_ids(client: TestClient) -> list[str]:
    response = client.get("/api/v1/audit-events", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


def effective(
    client: TestClient, user: str, context: str, module: str = "portal"
) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/users/{user}/effective-rights", params={"context": context, "module": module}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


# -- create, read, list ---------------------------------------------------------------------


def test_create_module_with_acls_and_read_it_back(client: TestClient) -> None:
    created = create_portal(client)

    assert created["key"] == "portal"
    assert created["name"] == "Customer Portal"
    assert sorted(created["context_types"]) == ["account", "root"]
    assert created["access_right"] == "portalAccess"
    assert acls_of(created) == {
        "portalAccess": {
            "category": "Module",
            "type": "bool",
            "description": "Open the portal at all",
        },
        "sim.read": {"category": "SIM Cards", "type": "bool", "description": None},
        "sim.modify": {"category": "SIM Cards", "type": "bool", "description": None},
        "Invoice Footer": {"category": "Billing", "type": "text", "description": None},
        "API IP Allow": {"category": "API", "type": "text", "description": None},
        "Dashboard Panels": {"category": "User Preferences", "type": "text", "description": None},
    }

    read = client.get(f"{MODULES}/portal")
    assert read.status_code == 200, read.text
    assert read.json()["key"] == "portal"
    assert acls_of(read.json()) == acls_of(created)
    assert sorted(read.json()["context_types"]) == ["account", "root"]
    assert read.json()["access_right"] == "portalAccess"


def test_acl_defaults_are_a_general_bool_right(client: TestClient) -> None:
    created = client.post(MODULES, json={"key": "bare", "name": "Bare", "acls": [{"key": "flag"}]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["context_types"] == [] and body["access_right"] is None
    assert acls_of(body) == {"flag": {"category": "General", "type": "bool", "description": None}}


def test_list_shows_the_ostiary_module_and_new_ones(client: TestClient) -> None:
    assert module_keys(client) == {"ostiary"}
    create_portal(client)
    listed = client.get(MODULES).json()
    assert {m["key"] for m in listed} == {"ostiary", "portal"}
    ostiary = next(m for m in listed if m["key"] == "ostiary")
    assert ostiary["access_right"] == "access"
    assert {"access", "modules.manage", "templates.manage", "API IP Allow"} <= set(acls_of(ostiary))
    assert acls_of(ostiary)["API IP Allow"]["type"] == "text"


def test_unknown_module_is_404(client: TestClient) -> None:
    assert_problem(client.get(f"{MODULES}/nowhere"), 404, "not-found")
    assert_problem(client.patch(f"{MODULES}/nowhere", json={"name": "X"}), 404, "not-found")
    assert_problem(client.delete(f"{MODULES}/nowhere"), 404, "not-found")
    assert_problem(client.post(f"{MODULES}/nowhere/acls", json={"key": "x"}), 404, "not-found")


# -- invalid creations change nothing --------------------------------------------------------


def test_duplicate_module_key_is_409_on_key(client: TestClient) -> None:
    create_portal(client)
    again = client.post(MODULES, json={**PORTAL, "name": "Another portal", "acls": []})
    assert_problem(again, 409, "already-exists", "key")
    assert client.get(f"{MODULES}/portal").json()["name"] == "Customer Portal"
    assert len(acls_of(client.get(f"{MODULES}/portal").json())) == len(PORTAL["acls"])


def test_duplicate_acl_keys_in_one_request_are_422(client: TestClient) -> None:
    before = audit_ids(client)
    body = {**PORTAL, "acls": [*PORTAL["acls"], {"key": "sim.read", "category": "Other"}]}
    problem = assert_problem(client.post(MODULES, json=body), 422, "rule-violation", "acls")
    assert "sim.read" in problem["detail"]
    assert_problem(client.get(f"{MODULES}/portal"), 404, "not-found")
    assert audit_ids(client) == before


def test_access_right_must_name_a_bool_acl_of_the_module(client: TestClient) -> None:
    before = audit_ids(client)
    text_right = client.post(MODULES, json={**PORTAL, "access_right": "Invoice Footer"})
    assert_problem(text_right, 422, "rule-violation", "access_right")
    missing = client.post(MODULES, json={**PORTAL, "access_right": "noSuchRight"})
    assert_problem(missing, 422, "rule-violation", "access_right")
    no_acls = client.post(MODULES, json={"key": "empty", "name": "Empty", "access_right": "x"})
    assert_problem(no_acls, 422, "rule-violation", "access_right")
    assert module_keys(client) == {"ostiary"}
    assert audit_ids(client) == before


def test_a_user_preference_cannot_be_the_access_right(client: TestClient) -> None:
    """Preferences are never granted, so a module gated by one could never be opened."""
    body = {
        **PORTAL,
        "access_right": "Compact View",
        "acls": [*PORTAL["acls"], {"key": "Compact View", "category": "User Preferences"}],
    }
    assert_problem(client.post(MODULES, json=body), 422, "rule-violation", "access_right")
    assert module_keys(client) == {"ostiary"}


def test_malformed_module_bodies_name_the_field(client: TestClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({**PORTAL, "key": "bad key!"}, "key"),
        ({**PORTAL, "name": ""}, "name"),
        ({**PORTAL, "context_types": ["galaxy"]}, "context_types[0]"),
        ({**PORTAL, "acls": [{"key": "x", "type": "number"}]}, "acls[0].type"),
        ({**PORTAL, "acls": [{"key": ""}]}, "acls[0].key"),
        ({**PORTAL, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        assert_problem(client.post(MODULES, json=body), 422, "invalid-input", field)
    assert module_keys(client) == {"ostiary"}


# -- changing a module -----------------------------------------------------------------------


def test_update_name_context_types_and_access_right(client: TestClient) -> None:
    create_portal(client)
    url = f"{MODULES}/portal"

    renamed = client.patch(url, json={"name": "Self-service Portal"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Self-service Portal"
    assert sorted(renamed.json()["context_types"]) == ["account", "root"]
    assert renamed.json()["access_right"] == "portalAccess"

    retyped = client.patch(url, json={"context_types": ["customer"]})
    assert retyped.status_code == 200, retyped.text
    assert retyped.json()["context_types"] == ["customer"]
    assert retyped.json()["name"] == "Self-service Portal"

    regated = client.patch(url, json={"access_right": "sim.read"})
    assert regated.status_code == 200, regated.text
    assert regated.json()["access_right"] == "sim.read"

    ungated = client.patch(url, json={"access_right": None, "context_types": []})
    assert ungated.status_code == 200, ungated.text
    assert ungated.json()["access_right"] is None and ungated.json()["context_types"] == []

    read = client.get(url).json()
    assert (read["name"], read["context_types"], read["access_right"]) == (
        "Self-service Portal",
        [],
        None,
    )


def test_a_refused_update_changes_nothing(client: TestClient) -> None:
    create_portal(client)
    url = f"{MODULES}/portal"
    before = client.get(url).json()
    events = audit_ids(client)

    for bad in ("Invoice Footer", "noSuchRight", "Dashboard Panels"):
        response = client.patch(
            url, json={"name": "Renamed", "context_types": ["customer"], "access_right": bad}
        )
        assert_problem(response, 422, "rule-violation", "access_right")
    assert_problem(client.patch(url, json={"context_types": ["galaxy"]}), 422, "invalid-input")
    assert_problem(client.patch(url, json={"key": "other"}), 422, "invalid-input", "key")

    assert client.get(url).json() == before
    assert audit_ids(client) == events


def test_context_types_and_access_right_decide_access(client: TestClient) -> None:
    """What a module's settings mean for a user: closed outside its context types, and
    closed unless its access right is true."""
    create_portal(client)
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")["id"]
    user = make_user(client, "reader", status="active", context_ids=[acme])["id"]
    group = client.post(
        f"/api/v1/contexts/{acme}/groups",
        json={"name": "Readers", "rights": {"portal": {"portalAccess": True, "sim.read": True}}},
    )
    assert group.status_code == 201, group.text
    assert (
        client.put(
            f"/api/v1/contexts/{acme}/groups/{group.json()['id']}/members/{user}"
        ).status_code
        == 204
    )

    assert effective(client, user, acme)["access"] is True

    assert client.patch(f"{MODULES}/portal", json={"context_types": ["root"]}).status_code == 200
    assert effective(client, user, acme)["access"] is False

    assert client.patch(f"{MODULES}/portal", json={"context_types": []}).status_code == 200
    assert effective(client, user, acme)["access"] is True

    assert client.patch(f"{MODULES}/portal", json={"access_right": "sim.modify"}).status_code == 200
    assert effective(client, user, acme)["access"] is False

    assert client.patch(f"{MODULES}/portal", json={"access_right": None}).status_code == 200
    opened = effective(client, user, acme)
    assert opened["access"] is True and opened["rights"]["sim.read"] is True


# -- the ACL catalogue -----------------------------------------------------------------------


def test_add_change_and_delete_an_acl(client: TestClient) -> None:
    create_portal(client)
    acls = f"{MODULES}/portal/acls"

    added = client.post(
        acls, json={"key": "sim.delete", "category": "SIM Cards", "description": "Remove"}
    )
    assert added.status_code == 201, added.text
    assert added.json() == {
        "key": "sim.delete",
        "category": "SIM Cards",
        "type": "bool",
        "description": "Remove",
    }
    text = client.post(acls, json={"key": "Greeting", "category": "Texts", "type": "text"})
    assert text.status_code == 201 and text.json()["type"] == "text"
    assert {"sim.delete", "Greeting"} <= set(acls_of(client.get(f"{MODULES}/portal").json()))

    assert_problem(client.post(acls, json={"key": "sim.delete"}), 409, "already-exists", "key")
    assert_problem(
        client.post(acls, json={"key": "x", "type": "number"}), 422, "invalid-input", "type"
    )

    changed = client.patch(
        f"{acls}/sim.delete", json={"category": "Danger", "description": "Really remove"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "key": "sim.delete",
        "category": "Danger",
        "type": "bool",
        "description": "Really remove",
    }
    assert_problem(
        client.patch(f"{acls}/sim.delete", json={"type": "text"}), 422, "invalid-input", "type"
    )
    assert_problem(
        client.patch(f"{acls}/sim.delete", json={"category": ""}), 422, "invalid-input", "category"
    )
    assert_problem(client.patch(f"{acls}/nothing", json={"category": "X"}), 404, "not-found")
    assert acls_of(client.get(f"{MODULES}/portal").json())["sim.delete"] == {
        "category": "Danger",
        "type": "bool",
        "description": "Really remove",
    }

    assert client.delete(f"{acls}/sim.delete").status_code == 204
    assert client.delete(f"{acls}/Invoice Footer").status_code == 204
    remaining = acls_of(client.get(f"{MODULES}/portal").json())
    assert "sim.delete" not in remaining and "Invoice Footer" not in remaining
    assert "Greeting" in remaining and "sim.read" in remaining
    assert_problem(client.delete(f"{acls}/sim.delete"), 404, "not-found")


def test_the_access_right_cannot_be_deleted(client: TestClient) -> None:
    create_portal(client)
    response = client.delete(f"{MODULES}/portal/acls/portalAccess")
    assert_problem(response, 422, "rule-violation", "acl")
    assert "portalAccess" in acls_of(client.get(f"{MODULES}/portal").json())

    # Once another right opens the module, the old one may go.
    assert client.patch(f"{MODULES}/portal", json={"access_right": "sim.read"}).status_code == 200
    assert client.delete(f"{MODULES}/portal/acls/portalAccess").status_code == 204
    assert "portalAccess" not in acls_of(client.get(f"{MODULES}/portal").json())


def test_an_acl_in_a_template_can_become_a_preference_only_without_leaving_it_there(
    client: TestClient,
) -> None:
    """A preference never appears in a template: turning a granted right into one must either
    be refused or take it out of the templates that held it."""
    create_portal(client)
    template = {
        "key": "portal-reader",
        "name": "Portal reader",
        "rights": {"portal": {"portalAccess": True, "sim.read": True}},
    }
    assert client.post("/api/v1/acl-templates", json=template).status_code == 201

    client.patch(f"{MODULES}/portal/acls/sim.read", json={"category": "User Preferences"})

    held = client.get("/api/v1/acl-templates/portal-reader").json()["rights"]["portal"]
    category = acls_of(client.get(f"{MODULES}/portal").json())["sim.read"]["category"]
    assert category != "User Preferences" or "sim.read" not in held
    # Whatever the outcome, the templates still export and import again as they are.
    exported = client.get("/api/v1/acl-templates/export").text
    imported = client.post(
        "/api/v1/acl-templates/import", content=exported, headers={"content-type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text


# -- the ostiary module and deletion ---------------------------------------------------------


def test_the_ostiary_module_and_its_own_rights_stay(client: TestClient) -> None:
    before = client.get(f"{MODULES}/ostiary").json()
    assert_problem(client.delete(f"{MODULES}/ostiary"), 422, "rule-violation")
    for right in ("users.read", "modules.manage", "API IP Allow", "access"):
        assert_problem(
            client.delete(f"{MODULES}/ostiary/acls/{right}"), 422, "rule-violation", "acl"
        )
    assert client.get(f"{MODULES}/ostiary").json() == before
    # The administrator still works through those rights.
    assert client.get(MODULES).status_code == 200


def test_extra_rights_added_to_the_ostiary_module_can_be_deleted(client: TestClient) -> None:
    added = client.post(
        f"{MODULES}/ostiary/acls", json={"key": "reports.read", "category": "Reports"}
    )
    assert added.status_code == 201, added.text
    assert client.delete(f"{MODULES}/ostiary/acls/reports.read").status_code == 204
    assert "reports.read" not in acls_of(client.get(f"{MODULES}/ostiary").json())


def test_deleting_a_module_removes_it_and_its_rights_from_templates(client: TestClient) -> None:
    create_portal(client)
    template = {
        "key": "mixed",
        "name": "Mixed",
        "rights": {"portal": {"sim.read": True}, "ostiary": {"contexts.read": True}},
    }
    assert client.post("/api/v1/acl-templates", json=template).status_code == 201

    assert client.delete(f"{MODULES}/portal").status_code == 204
    assert_problem(client.get(f"{MODULES}/portal"), 404, "not-found")
    assert module_keys(client) == {"ostiary"}
    left = client.get("/api/v1/acl-templates/mixed")
    assert left.status_code == 200, left.text
    assert left.json()["rights"] == {"ostiary": {"contexts.read": True}}

    # The key is free again.
    assert client.post(MODULES, json={"key": "portal", "name": "New portal"}).status_code == 201
    assert acls_of(client.get(f"{MODULES}/portal").json()) == {}


def test_module_changes_are_audited(client: TestClient) -> None:
    create_portal(client)
    client.patch(f"{MODULES}/portal", json={"name": "Renamed"})
    client.post(f"{MODULES}/portal/acls", json={"key": "extra"})
    client.delete(f"{MODULES}/portal/acls/extra")
    client.delete(f"{MODULES}/portal")
    events = client.get("/api/v1/audit-events", params={"limit": 50}).json()["items"]
    actions = [
        e["action"]
        for e in events
        if e["actor"] == "admin" and e["action"].startswith(("module.", "acl."))
    ]
    assert actions == [
        "module.deleted",
        "acl.deleted",
        "acl.created",
        "module.updated",
        "module.created",
    ]


# -- who may read and change modules ----------------------------------------------------------


def test_account_administrator_cannot_change_modules(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    create_portal(client)
    acme = make_context(client, root_id(client), "account", "Acme", key="acme")
    api_user(client, "acmeadmin", [acme["id"]], domain="ENTERPRISE")
    grant(runtime, "acmeadmin", "acme", {"access": True, "modules.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("acmeadmin", "pw of nimdaemca 123")
    before = client.get(f"{MODULES}/portal").json()
    events = audit_ids(client)

    listed = anonymous.get(MODULES)
    assert listed.status_code == 200, listed.text
    assert {m["key"] for m in listed.json()} == {"ostiary", "portal"}
    assert anonymous.get(f"{MODULES}/portal").status_code == 200

    refused = [
        anonymous.post(MODULES, json={"key": "mine", "name": "Mine"}),
        anonymous.patch(f"{MODULES}/portal", json={"name": "Taken over"}),
        anonymous.delete(f"{MODULES}/portal"),
        anonymous.post(f"{MODULES}/portal/acls", json={"key": "backdoor"}),
        anonymous.patch(f"{MODULES}/portal/acls/sim.read", json={"category": "Mine"}),
        anonymous.delete(f"{MODULES}/portal/acls/sim.read"),
    ]
    for response in refused:
        assert_problem(response, 403, "forbidden")

    assert module_keys(client) == {"ostiary", "portal"}
    assert client.get(f"{MODULES}/portal").json() == before
    assert audit_ids(client) == events


def test_root_holder_of_modules_manage_may_change_modules(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    api_user(client, "modeller", [root_id(client)])
    grant(runtime, "modeller", "root", {"access": True, "modules.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("modeller", "pw of relledom 123")
    created = anonymous.post(MODULES, json=PORTAL)
    assert created.status_code == 201, created.text
    assert anonymous.delete(f"{MODULES}/portal").status_code == 204


def test_root_caller_without_modules_manage_cannot_change_modules(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    api_user(client, "looker", [root_id(client)])
    grant(runtime, "looker", "root", {"access": True, "templates.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("looker", "pw of rekool 123")
    assert anonymous.get(MODULES).status_code == 200
    assert_problem(anonymous.post(MODULES, json=PORTAL), 403, "forbidden")
    assert module_keys(client) == {"ostiary"}


def test_caller_without_access_cannot_list_modules(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    root = root_id(client)
    api_user(client, "noaccess", [root])
    grant(
        runtime, "noaccess", "root", {"contexts.read": True, "modules.manage": True, **LOCAL_ONLY}
    )
    anonymous.auth = ("noaccess", "pw of sseccaon 123")
    assert_problem(anonymous.get(MODULES), 403, "forbidden")
    assert_problem(anonymous.get(f"{MODULES}/ostiary"), 403, "forbidden")
    assert_problem(anonymous.post(MODULES, json=PORTAL), 403, "forbidden")

    api_user(client, "nobody", [root])
    anonymous.auth = ("nobody", "pw of ydobon 123")
    assert_problem(anonymous.get(MODULES), 403, "forbidden")

    anonymous.auth = None
    assert_problem(anonymous.get(MODULES), 401, "unauthenticated")
    assert module_keys(client) == {"ostiary"}
