"""``/api/v1/acl-templates``: templates, their rights, and their CSV export and import."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, root_id

TEMPLATES = "/api/v1/acl-templates"
EXPORT = f"{TEMPLATES}/export"
IMPORT = f"{TEMPLATES}/import"
HEADER = "template,name,context_types,module,acl,value"
SHIPPED = {"root-administrator", "account-administrator", "account-user"}
LOCAL_ONLY = {"API IP Allow": "127.0.0.1/32"}

PORTAL: dict[str, Any] = {
    "key": "portal",
    "name": "Customer Portal",
    "access_right": "portalAccess",
    "acls": [
        {"key": "portalAccess", "category": "Module"},
        {"key": "sim.read", "category": "SIM Cards"},
        {"key": "sim.modify", "category": "SIM Cards"},
        {"key": "Invoice Footer", "category": "Billing", "type": "text"},
        {"key": "API IP Allow", "category": "API", "type": "text"},
        {"key": "Dashboard Panels", "category": "User Preferences", "type": "text"},
    ],
}

READER: dict[str, Any] = {
    "key": "portal-reader",
    "name": "Portal reader",
    "context_types": ["account", "customer"],
    "rights": {
        "portal": {"portalAccess": True, "sim.read": True, "Invoice Footer": "Thanks!"},
        "ostiary": {"access": True, "contexts.read": True},
    },
}


def setup_portal(client: TestClient) -> None:
    response = client.post("/api/v1/modules", json=PORTAL)
    assert response.status_code == 201, response.text


def create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(TEMPLATES, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def all_templates(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get(TEMPLATES)
    assert response.status_code == 200, response.text
    return {t["key"]: t for t in response.json()}


def audit_ids(client: TestClient) -> list[str]:
    response = client.get("/api/v1/audit-events", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


def export(client: TestClient) -> str:
    response = client.get(EXPORT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return response.text


def import_csv(client: TestClient, text: str) -> Any:
    return client.post(IMPORT, content=text.encode(), headers={"content-type": "text/csv"})


def error_fields(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem["errors"]]


# -- shipped templates ----------------------------------------------------------------------


def test_shipped_templates_exist_after_the_first_start(client: TestClient) -> None:
    templates = all_templates(client)
    assert set(templates) == SHIPPED

    root_admin = templates["root-administrator"]
    assert root_admin["context_types"] == ["root"]
    ostiary = root_admin["rights"]["ostiary"]
    assert {"access", "modules.manage", "templates.manage", "users.manage", "audit.read"} <= set(
        ostiary
    )
    assert all(value is True for value in ostiary.values())

    account_admin = templates["account-administrator"]
    assert sorted(account_admin["context_types"]) == ["account", "customer"]
    granted = {k for k, v in account_admin["rights"]["ostiary"].items() if v is True}
    assert {"access", "users.manage", "groups.manage"} <= granted
    assert not {"modules.manage", "templates.manage", "domains.manage"} & granted

    account_user = templates["account-user"]
    assert sorted(account_user["context_types"]) == ["account", "customer"]
    assert {k for k, v in account_user["rights"]["ostiary"].items() if v is True} == {
        "access",
        "contexts.read",
        "users.read",
    }
    assert client.get(f"{TEMPLATES}/account-user").json() == account_user


# -- create, read, edit, delete ---------------------------------------------------------------


def test_create_template_and_read_it_back(client: TestClient) -> None:
    setup_portal(client)
    created = create(client, READER)
    assert created["key"] == "portal-reader"
    assert created["name"] == "Portal reader"
    assert sorted(created["context_types"]) == ["account", "customer"]
    assert created["rights"] == READER["rights"]

    read = client.get(f"{TEMPLATES}/portal-reader")
    assert read.status_code == 200, read.text
    assert read.json() == created
    assert all_templates(client)["portal-reader"] == created


def test_template_without_rights_or_types(client: TestClient) -> None:
    created = create(client, {"key": "blank", "name": "Blank"})
    assert created == {"key": "blank", "name": "Blank", "context_types": [], "rights": {}}


def test_bool_values_are_normalised_and_false_is_kept(client: TestClient) -> None:
    setup_portal(client)
    created = create(
        client,
        {
            "key": "mixed",
            "name": "Mixed",
            "rights": {"portal": {"sim.read": "TRUE", "sim.modify": False}},
        },
    )
    assert created["rights"] == {"portal": {"sim.read": True, "sim.modify": False}}


def test_duplicate_template_key_is_409_on_key(client: TestClient) -> None:
    setup_portal(client)
    create(client, READER)
    again = client.post(TEMPLATES, json={**READER, "name": "Other", "rights": {}})
    assert_problem(again, 409, "already-exists", "key")
    assert client.get(f"{TEMPLATES}/portal-reader").json()["name"] == "Portal reader"
    assert_problem(
        client.post(TEMPLATES, json={"key": "account-user", "name": "Mine"}),
        409,
        "already-exists",
        "key",
    )


@pytest.mark.parametrize("key", ["export", "import"])
def test_a_key_that_names_a_page_of_templates_is_refused(client: TestClient, key: str) -> None:
    """/api/v1/templates/export (and the console's page) would hide such a template."""
    answer = client.post(TEMPLATES, json={"key": key, "name": "Shadowed"})
    assert_problem(answer, 422, "rule-violation", "key")
    assert key in answer.json()["detail"]
    assert all(t["key"] != key for t in client.get(TEMPLATES).json())


def test_user_preference_in_rights_is_422_naming_it(client: TestClient) -> None:
    setup_portal(client)
    before = audit_ids(client)
    body = {
        "key": "prefs",
        "name": "Prefs",
        "rights": {"portal": {"sim.read": True, "Dashboard Panels": "news"}},
    }
    problem = assert_problem(
        client.post(TEMPLATES, json=body), 422, "invalid-input", "rights.portal.Dashboard Panels"
    )
    assert error_fields(problem) == ["rights.portal.Dashboard Panels"]
    assert_problem(client.get(f"{TEMPLATES}/prefs"), 404, "not-found")
    assert audit_ids(client) == before


def test_unknown_module_or_acl_is_422_naming_the_place(client: TestClient) -> None:
    setup_portal(client)
    unknown_module = {"key": "x", "name": "X", "rights": {"nomodule": {"a": True}}}
    assert_problem(
        client.post(TEMPLATES, json=unknown_module), 422, "invalid-input", "rights.nomodule"
    )
    unknown_acl = {
        "key": "x",
        "name": "X",
        "rights": {"portal": {"sim.read": True, "sim.burn": True}},
    }
    assert_problem(
        client.post(TEMPLATES, json=unknown_acl), 422, "invalid-input", "rights.portal.sim.burn"
    )

    # Every problem of one request is listed.
    several = {
        "key": "x",
        "name": "X",
        "rights": {
            "portal": {"sim.burn": True, "sim.read": "yes", "Invoice Footer": True},
            "nomodule": {"a": True},
        },
    }
    problem = assert_problem(client.post(TEMPLATES, json=several), 422, "invalid-input")
    assert set(error_fields(problem)) == {
        "rights.portal.sim.burn",
        "rights.portal.sim.read",
        "rights.portal.Invoice Footer",
        "rights.nomodule",
    }
    assert set(all_templates(client)) == SHIPPED


def test_malformed_template_bodies_name_the_field(client: TestClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": "Bad Key", "name": "X"}, "key"),
        ({"key": "x", "name": ""}, "name"),
        ({"key": "x", "name": "X", "context_types": ["planet"]}, "context_types[0]"),
        ({"key": "x", "name": "X", "owner": "me"}, "owner"),
    ]
    for body, field in cases:
        assert_problem(client.post(TEMPLATES, json=body), 422, "invalid-input", field)
    assert set(all_templates(client)) == SHIPPED


def test_api_ip_allow_accepts_only_cidr_ranges(client: TestClient) -> None:
    setup_portal(client)
    for bad in ("10.0.0.300/8", "localhost", "10.0.0.0/33", "2001:db8::/129", ""):
        body = {"key": "ip", "name": "IP", "rights": {"ostiary": {"API IP Allow": bad}}}
        assert_problem(
            client.post(TEMPLATES, json=body), 422, "invalid-input", "rights.ostiary.API IP Allow"
        )
    bad_portal = {"key": "ip", "name": "IP", "rights": {"portal": {"API IP Allow": "10.0.0.300/8"}}}
    assert_problem(
        client.post(TEMPLATES, json=bad_portal), 422, "invalid-input", "rights.portal.API IP Allow"
    )
    assert_problem(client.get(f"{TEMPLATES}/ip"), 404, "not-found")

    good = {
        "key": "ip",
        "name": "IP",
        "rights": {"ostiary": {"API IP Allow": "10.1.2.3/8 2001:db8::/32"}},
    }
    created = create(client, good)
    assert created["rights"] == {"ostiary": {"API IP Allow": "10.0.0.0/8, 2001:db8::/32"}}
    assert (
        client.get(f"{TEMPLATES}/ip").json()["rights"]["ostiary"]["API IP Allow"]
        == "10.0.0.0/8, 2001:db8::/32"
    )


def test_edit_name_types_and_rights(client: TestClient) -> None:
    setup_portal(client)
    create(client, READER)
    url = f"{TEMPLATES}/portal-reader"

    renamed = client.patch(url, json={"name": "Portal viewer"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Portal viewer"
    assert renamed.json()["rights"] == READER["rights"]
    assert sorted(renamed.json()["context_types"]) == ["account", "customer"]

    retyped = client.patch(url, json={"context_types": ["customer"]})
    assert retyped.status_code == 200, retyped.text
    assert retyped.json()["context_types"] == ["customer"]
    assert retyped.json()["name"] == "Portal viewer"

    new_rights = {"portal": {"portalAccess": True, "sim.modify": True}}
    regranted = client.patch(url, json={"rights": new_rights})
    assert regranted.status_code == 200, regranted.text
    assert regranted.json()["rights"] == new_rights  # replaced, not merged

    read = client.get(url).json()
    assert read == {
        "key": "portal-reader",
        "name": "Portal viewer",
        "context_types": ["customer"],
        "rights": new_rights,
    }

    emptied = client.patch(url, json={"rights": {}, "context_types": []})
    assert emptied.status_code == 200, emptied.text
    assert client.get(url).json() == {
        "key": "portal-reader",
        "name": "Portal viewer",
        "context_types": [],
        "rights": {},
    }


def test_a_refused_edit_changes_nothing(client: TestClient) -> None:
    setup_portal(client)
    create(client, READER)
    url = f"{TEMPLATES}/portal-reader"
    before = client.get(url).json()
    events = audit_ids(client)

    bad_rights = client.patch(
        url, json={"name": "Changed", "rights": {"portal": {"Dashboard Panels": "x"}}}
    )
    assert_problem(bad_rights, 422, "invalid-input", "rights.portal.Dashboard Panels")
    bad_ip = client.patch(
        url,
        json={"context_types": ["root"], "rights": {"ostiary": {"API IP Allow": "10.0.0.300/8"}}},
    )
    assert_problem(bad_ip, 422, "invalid-input", "rights.ostiary.API IP Allow")
    assert_problem(client.patch(url, json={"name": ""}), 422, "invalid-input", "name")
    assert_problem(client.patch(url, json={"key": "renamed"}), 422, "invalid-input", "key")
    assert_problem(client.patch(f"{TEMPLATES}/nothing", json={"name": "X"}), 404, "not-found")

    assert client.get(url).json() == before
    assert audit_ids(client) == events


def test_delete_template(client: TestClient) -> None:
    setup_portal(client)
    create(client, READER)
    assert client.delete(f"{TEMPLATES}/portal-reader").status_code == 204
    assert_problem(client.get(f"{TEMPLATES}/portal-reader"), 404, "not-found")
    assert set(all_templates(client)) == SHIPPED
    assert_problem(client.delete(f"{TEMPLATES}/portal-reader"), 404, "not-found")
    # The key can be used again.
    assert create(client, {"key": "portal-reader", "name": "Again"})["rights"] == {}


def test_template_changes_are_audited(client: TestClient) -> None:
    create(client, {"key": "audited", "name": "Audited"})
    client.patch(f"{TEMPLATES}/audited", json={"name": "Audited twice"})
    client.patch(f"{TEMPLATES}/audited", json={"name": "Audited twice"})  # no change, no event
    client.delete(f"{TEMPLATES}/audited")
    events = client.get("/api/v1/audit-events", params={"limit": 50}).json()["items"]
    mine = [
        e["action"] for e in events if e["actor"] == "admin" and e["action"].startswith("template.")
    ]
    assert mine == ["template.deleted", "template.updated", "template.created"]


def test_account_administrator_cannot_change_templates(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    setup_portal(client)
    create(client, READER)
    acme = make_context(client, root_id(client), "account", "Acme", key="acme")
    api_user(client, "acmeadmin", [acme["id"]], domain="ENTERPRISE")
    grant(runtime, "acmeadmin", "acme", {"access": True, "templates.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("acmeadmin", "pw of nimdaemca 123")
    before = all_templates(client)
    events = audit_ids(client)

    assert anonymous.get(TEMPLATES).status_code == 200
    assert anonymous.get(f"{TEMPLATES}/portal-reader").status_code == 200
    assert anonymous.get(EXPORT).status_code == 200
    refused = [
        anonymous.post(TEMPLATES, json={"key": "mine", "name": "Mine"}),
        anonymous.patch(f"{TEMPLATES}/portal-reader", json={"name": "Taken over"}),
        anonymous.delete(f"{TEMPLATES}/portal-reader"),
        anonymous.post(
            IMPORT, content=f"{HEADER}\nmine,Mine,,,,\n", headers={"content-type": "text/csv"}
        ),
    ]
    for response in refused:
        assert_problem(response, 403, "forbidden")
    assert all_templates(client) == before
    assert audit_ids(client) == events


def test_caller_without_access_cannot_read_templates(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    api_user(client, "noaccess", [root_id(client)])
    grant(runtime, "noaccess", "root", {"templates.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("noaccess", "pw of sseccaon 123")
    assert_problem(anonymous.get(TEMPLATES), 403, "forbidden")
    assert_problem(anonymous.get(EXPORT), 403, "forbidden")
    assert_problem(
        anonymous.post(TEMPLATES, json={"key": "mine", "name": "Mine"}), 403, "forbidden"
    )
    assert set(all_templates(client)) == SHIPPED


# -- CSV ------------------------------------------------------------------------------------

TRICKY_FOOTER = 'Acme, Inc. - "the best", really'


def setup_csv_world(client: TestClient) -> None:
    setup_portal(client)
    create(client, READER)
    create(client, {"key": "blank", "name": 'Blank, "for now"', "context_types": ["tenant"]})
    create(
        client,
        {
            "key": "tricky",
            "name": 'Tricky, with "quotes"',
            "context_types": ["root", "tenant", "account"],
            "rights": {
                "portal": {
                    "portalAccess": True,
                    "sim.modify": False,
                    "Invoice Footer": TRICKY_FOOTER,
                    "API IP Allow": "10.0.0.0/8 192.168.1.0/24, 2001:db8::/32",
                },
                "ostiary": {"API IP Allow": "0.0.0.0/0"},
            },
        },
    )


def test_export_is_csv_with_documented_columns(client: TestClient) -> None:
    setup_csv_world(client)
    response = client.get(EXPORT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert ",".join(rows[0]) == HEADER
    assert response.text.splitlines()[0] == HEADER

    by_template: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        by_template.setdefault(row[0], []).append(row)
    assert set(by_template) == SHIPPED | {"portal-reader", "blank", "tricky"}
    assert by_template["blank"] == [["blank", 'Blank, "for now"', "tenant", "", "", ""]]
    tricky = {(r[3], r[4]): r[5] for r in by_template["tricky"]}
    assert tricky == {
        ("portal", "portalAccess"): "true",
        ("portal", "sim.modify"): "false",
        ("portal", "Invoice Footer"): TRICKY_FOOTER,
        ("portal", "API IP Allow"): "10.0.0.0/8, 192.168.1.0/24, 2001:db8::/32",
        ("ostiary", "API IP Allow"): "0.0.0.0/0",
    }
    assert {r[1] for r in by_template["tricky"]} == {'Tricky, with "quotes"'}
    assert {tuple(sorted(r[2].split())) for r in by_template["tricky"]} == {
        ("account", "root", "tenant")
    }
    # No user preference is ever exported.
    assert not any(r[4] == "Dashboard Panels" for r in rows)


def test_export_then_import_changes_nothing(client: TestClient) -> None:
    setup_csv_world(client)
    first = export(client)
    before = all_templates(client)
    events = audit_ids(client)

    response = import_csv(client, first)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "created": [],
        "updated": [],
        "unchanged": sorted(SHIPPED | {"portal-reader", "blank", "tricky"}),
    }
    assert export(client) == first
    assert all_templates(client) == before
    assert audit_ids(client) == events


def test_import_into_an_empty_catalogue_round_trips_exactly(client: TestClient) -> None:
    setup_csv_world(client)
    first = export(client)
    before = all_templates(client)

    for key in before:
        assert client.delete(f"{TEMPLATES}/{key}").status_code == 204
    assert all_templates(client) == {}
    assert export(client) == HEADER + "\n"

    response = import_csv(client, first)
    assert response.status_code == 200, response.text
    result = response.json()
    assert sorted(result["created"]) == sorted(before)
    assert result["updated"] == [] and result["unchanged"] == []

    assert export(client) == first
    assert all_templates(client) == before


def test_import_replaces_the_rights_of_named_templates_only(client: TestClient) -> None:
    setup_csv_world(client)
    untouched = all_templates(client)["tricky"]
    text = "\n".join(
        [
            HEADER,
            "portal-reader,Portal reader,account customer,portal,sim.modify,true",
            "portal-reader,Portal reader,account customer,portal,portalAccess,TRUE",
            "fresh,Fresh one,,ostiary,contexts.read,true",
            "",
        ]
    )
    response = import_csv(client, text)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": ["fresh"], "updated": ["portal-reader"], "unchanged": []}

    templates = all_templates(client)
    assert templates["portal-reader"]["rights"] == {
        "portal": {"portalAccess": True, "sim.modify": True}
    }
    assert templates["fresh"] == {
        "key": "fresh",
        "name": "Fresh one",
        "context_types": [],
        "rights": {"ostiary": {"contexts.read": True}},
    }
    assert templates["tricky"] == untouched
    assert set(templates) >= SHIPPED

    events = client.get("/api/v1/audit-events", params={"limit": 20}).json()["items"]
    actions = {e["action"] for e in events if e["actor"] == "admin"}
    assert {"template.created", "template.updated"} <= actions


def test_bad_rows_are_all_reported_with_line_numbers_and_nothing_is_imported(
    client: TestClient,
) -> None:
    setup_csv_world(client)
    before = all_templates(client)
    exported = export(client)
    events = audit_ids(client)
    text = "\n".join(
        [
            HEADER,
            "newcomer,Newcomer,account,portal,portalAccess,true",
            "newcomer,Newcomer,account,portal,sim.read,true",
            "newcomer,Newcomer,account,portal,sim.burn,true",
            "portal-reader,Portal reader,account customer,portal,sim.modify,true",
            "portal-reader,Portal reader,account customer,portal,sim.read,yes",
            "",
        ]
    )
    problem = assert_problem(import_csv(client, text), 422, "invalid-input", "line 4")
    assert error_fields(problem) == ["line 4", "line 6"]
    assert "sim.burn" in problem["errors"][0]["message"]
    assert "line 4" in problem["detail"] and "line 6" in problem["detail"]

    assert all_templates(client) == before
    assert_problem(client.get(f"{TEMPLATES}/newcomer"), 404, "not-found")
    assert export(client) == exported
    assert audit_ids(client) == events


def test_every_kind_of_bad_row_is_named_by_its_line(client: TestClient) -> None:
    setup_csv_world(client)
    before = all_templates(client)
    rows = [
        HEADER,  # 1
        "ok,Ok,account,portal,sim.read,true",  # 2
        "ok,Ok,account,nomodule,x,true",  # 3: unknown module
        "ok,Ok,account,portal,Dashboard Panels,news",  # 4: a preference
        "ok,Ok,account,portal,sim.read,false",  # 5: the same right twice
        "ok,Ok,planet,portal,sim.modify,true",  # 6: unknown context type
        "ok,Ok,account,portal,sim.modify",  # 7: a column missing
        ",Nameless,,,,",  # 8: no template key
        "ip,IP,,ostiary,API IP Allow,10.0.0.300/8",  # 9: not a CIDR range
        "ip,IP,,portal,Invoice Footer,fine",  # 10: good
        "ok,Ok,account,portal,portalAccess,1",  # 11: not a bool
    ]
    problem = assert_problem(import_csv(client, "\n".join(rows) + "\n"), 422, "invalid-input")
    assert error_fields(problem) == [f"line {n}" for n in (3, 4, 5, 6, 7, 8, 9, 11)]
    assert all_templates(client) == before


def test_wrong_header_is_422_on_line_1(client: TestClient) -> None:
    before = all_templates(client)
    for header in (
        "key,name,context_types,module,acl,value",
        "template,name,context_types,module,acl",
        "template;name;context_types;module;acl;value",
        "newcomer,Newcomer,,ostiary,access,true",
    ):
        text = f"{header}\nnewcomer,Newcomer,,ostiary,access,true\n"
        problem = assert_problem(import_csv(client, text), 422, "invalid-input", "line 1")
        assert error_fields(problem) == ["line 1"]
    assert_problem(import_csv(client, ""), 422, "invalid-input")
    assert all_templates(client) == before


def test_one_template_with_two_names_is_422(client: TestClient) -> None:
    before = all_templates(client)
    events = audit_ids(client)
    text = "\n".join(
        [
            HEADER,
            "twice,First name,,ostiary,access,true",
            "twice,Second name,,ostiary,contexts.read,true",
            "",
        ]
    )
    problem = assert_problem(import_csv(client, text), 422, "invalid-input", "line 3")
    assert "line 2" in problem["errors"][0]["message"]
    other_types = "\n".join(
        [
            HEADER,
            "twice,Same,account,ostiary,access,true",
            "twice,Same,customer,ostiary,users.read,true",
            "",
        ]
    )
    assert_problem(import_csv(client, other_types), 422, "invalid-input", "line 3")
    assert all_templates(client) == before
    assert audit_ids(client) == events


def test_text_values_with_surrounding_spaces_round_trip(client: TestClient) -> None:
    """The API stores text as given, so export → import must give back the same text."""
    setup_portal(client)
    create(
        client,
        {
            "key": "spaced",
            "name": "Spaced",
            "rights": {"portal": {"Invoice Footer": "  indented, and padded  "}},
        },
    )
    first = export(client)
    response = import_csv(client, first)
    assert response.status_code == 200, response.text
    assert "spaced" in response.json()["unchanged"]
    assert client.get(f"{TEMPLATES}/spaced").json()["rights"] == {
        "portal": {"Invoice Footer": "  indented, and padded  "}
    }
    assert export(client) == first


def test_multi_line_values_round_trip_and_later_lines_keep_their_numbers(
    client: TestClient,
) -> None:
    setup_portal(client)
    footer = "Acme Inc.\nMain Street 1\nSpringfield"
    create(
        client,
        {"key": "letter", "name": "Letter", "rights": {"portal": {"Invoice Footer": footer}}},
    )
    first = export(client)
    assert footer in first

    client.delete(f"{TEMPLATES}/letter")
    response = import_csv(client, first)
    assert response.status_code == 200, response.text
    assert client.get(f"{TEMPLATES}/letter").json()["rights"] == {
        "portal": {"Invoice Footer": footer}
    }
    assert export(client) == first

    # A value over three lines occupies lines 2 to 4; the bad row below it is on line 5.
    text = (
        f"{HEADER}\n"
        'note,Note,,portal,Invoice Footer,"one\ntwo\nthree"\n'
        "note,Note,,portal,sim.read,maybe\n"
    )
    problem = assert_problem(import_csv(client, text), 422, "invalid-input")
    assert error_fields(problem) == ["line 5"]
    assert_problem(client.get(f"{TEMPLATES}/note"), 404, "not-found")
