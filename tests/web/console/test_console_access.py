"""Modules, ACL templates (with CSV), groups and access policies in the console: staff at the
root change the catalogue and templates; a contact person works on the groups and policies of
their subtree, never grants what they do not hold (refused, audited) and never reaches a group
outside it; forms check right values as the API does and show problems by their field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.access.models import Acl, AclTemplate, GroupMember, Module, UserGroup
from ostiary.access.policies import PolicyService
from ostiary.access.rightsets import RightSets
from ostiary.access.templates import TemplateService
from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context
from ostiary.errors import FieldProblem
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.staff import add_staff
from tests.web.console.support import csrf_of, make_world, sign_in, user_id


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def app(runtime: Runtime, tmp_path: Path) -> FastAPI:
    make_world(runtime, tmp_path)
    add_staff(runtime, tmp_path)
    return app_for(runtime)


@pytest.fixture
def staff(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=LOCAL_CLIENT, follow_redirects=False) as client:
        sign_in(client, "stella")
        yield client


@pytest.fixture
def carla(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=LOCAL_CLIENT, follow_redirects=False) as client:
        sign_in(client, "carla", "City Group")
        yield client


def _context(runtime: Runtime, key: str) -> Context:
    with runtime.sessions() as session:
        return session.scalars(select(Context).where(Context.key == key)).one()


def _group(runtime: Runtime, context_key: str, name: str) -> UserGroup:
    with runtime.sessions() as session:
        return session.scalars(
            select(UserGroup)
            .join(Context, Context.id == UserGroup.context_id)
            .where(Context.key == context_key, UserGroup.name == name)
        ).one()


def _acl(runtime: Runtime, module: str, key: str) -> str:
    with runtime.sessions() as session:
        return str(
            session.scalars(
                select(Acl.id).join(Module).where(Module.key == module, Acl.key == key)
            ).one()
        )


def _group_rights(runtime: Runtime, context_key: str, name: str) -> dict[str, object]:
    group = _group(runtime, context_key, name)
    with runtime.sessions() as session:
        group = session.get(UserGroup, group.id)  # type: ignore[assignment]
        assert group is not None
        return RightSets(session).describe((r.acl, r.value) for r in group.rights)


def _template_rights(runtime: Runtime, key: str) -> dict[str, object] | None:
    with runtime.sessions() as session:
        template = TemplateService(session, Actor.system()).find(key)
        if template is None:
            return None
        return RightSets(session).describe((r.acl, r.value) for r in template.rights)


def _events(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# -- modules ---------------------------------------------------------------------------------


def test_staff_see_the_catalogue_and_add_a_module_with_rights(
    staff: TestClient, runtime: Runtime
) -> None:
    page = staff.get("/console/modules")
    assert page.status_code == 200 and 'id="module-ostiary"' in page.text
    ostiary = staff.get("/console/modules/ostiary").text
    assert "API IP Allow" in ostiary and "CIDR ranges" in ostiary and "(access right)" in ostiary

    form = {"csrf": csrf_of(page.text), "key": "bad key!", "name": "Billing"}
    bad = staff.post("/console/modules", data=form)
    assert bad.status_code == 422 and 'id="new-key-error"' in bad.text
    assert 'value="bad key!"' in bad.text
    done = staff.post("/console/modules", data={**form, "key": "bm", "context_types": "account"})
    assert done.status_code == 303 and done.headers["location"] == "/console/modules/bm"
    twice = staff.post("/console/modules", data={**form, "key": "bm"})
    assert twice.status_code == 409 and 'id="new-key-error"' in twice.text

    csrf = csrf_of(page.text)
    added = staff.post(
        "/console/modules/bm/acls",
        data={"csrf": csrf, "acl": "bmModuleAccess", "category": "Module", "type": "bool"},
    )
    assert added.status_code == 303
    staff.post(
        "/console/modules/bm/acls",
        data={"csrf": csrf, "acl": "invoice limit", "category": "Billing", "type": "text"},
    )
    again = staff.post(
        "/console/modules/bm/acls",
        data={"csrf": csrf, "acl": "bmModuleAccess", "category": "Module", "type": "bool"},
    )
    assert again.status_code == 409 and 'id="acl-key-error"' in again.text
    text_as_opener = staff.post(
        "/console/modules/bm",
        data={"csrf": csrf, "name": "Billing", "access_right": "invoice limit"},
    )
    assert text_as_opener.status_code == 422 and 'id="module-access-error"' in text_as_opener.text
    opened = staff.post(
        "/console/modules/bm",
        data={"csrf": csrf, "name": "Billing", "access_right": "bmModuleAccess"},
    )
    assert opened.status_code == 303
    with runtime.sessions() as session:
        module = session.scalars(select(Module).where(Module.key == "bm")).one()
        assert module.access_right == "bmModuleAccess" and module.context_types == []
        assert sorted(a.key for a in module.acls) == ["bmModuleAccess", "invoice limit"]

    acl_page = staff.get("/console/modules/bm/acl", params={"acl": "invoice limit"})
    assert acl_page.status_code == 200 and 'id="remove-acl"' in acl_page.text
    staff.post(
        "/console/modules/bm/acl",
        data={"csrf": csrf, "acl": "invoice limit", "category": "Money", "description": "Max"},
    )
    confirm = staff.get("/console/modules/bm/acl/delete", params={"acl": "invoice limit"})
    assert 'id="confirm-delete"' in confirm.text
    removed = staff.post(
        "/console/modules/bm/acl/delete", data={"csrf": csrf, "acl": "invoice limit"}
    )
    assert removed.status_code == 303
    assert [e.changes["acl"] for e in _events(runtime, "acl.deleted")] == ["invoice limit"]
    assert [e.changes["acl"] for e in _events(runtime, "acl.updated")] == ["invoice limit"]


def test_a_contact_person_reads_modules_without_a_button_and_cannot_change_them(
    carla: TestClient, runtime: Runtime
) -> None:
    page = carla.get("/console/modules")
    assert page.status_code == 200 and 'id="module-ostiary"' in page.text
    assert 'id="create-module"' not in page.text and 'id="nav-modules"' not in page.text
    assert 'id="add-acl"' not in carla.get("/console/modules/ostiary").text
    form = {"csrf": csrf_of(page.text), "key": "sneaky", "name": "Sneaky"}
    assert carla.post("/console/modules", data=form).status_code == 403
    with runtime.sessions() as session:
        assert session.scalars(select(Module).where(Module.key == "sneaky")).first() is None


# -- templates -------------------------------------------------------------------------------


def test_staff_create_a_template_and_set_its_rights_as_the_api_checks_them(
    staff: TestClient, runtime: Runtime
) -> None:
    page = staff.get("/console/templates")
    csrf = csrf_of(page.text)
    created = staff.post(
        "/console/templates",
        data={"csrf": csrf, "key": "planner", "name": "Planner", "context_types": "account"},
    )
    assert (
        created.status_code == 303 and created.headers["location"] == "/console/templates/planner"
    )
    edit = staff.get("/console/templates/planner").text
    users_read, ip_allow = (
        _acl(runtime, "ostiary", "users.read"),
        _acl(runtime, "ostiary", "API IP Allow"),
    )
    assert f'name="r-{users_read}"' in edit and f'name="r-{ip_allow}"' in edit

    form = {
        "csrf": csrf,
        "name": "Planner",
        "context_types": "account",
        f"r-{users_read}": "true",
        f"r-{ip_allow}": "10.0.0.0/33",
    }
    bad = staff.post("/console/templates/planner", data=form)
    assert bad.status_code == 422
    assert f'id="r-{ip_allow}-error"' in bad.text and "not an IPv4 or IPv6 CIDR range" in bad.text
    assert 'value="10.0.0.0/33"' in bad.text
    assert _template_rights(runtime, "planner") == {}
    good = staff.post("/console/templates/planner", data={**form, f"r-{ip_allow}": "10.0.0.0/8"})
    assert good.status_code == 303
    assert _template_rights(runtime, "planner") == {
        "ostiary": {"API IP Allow": "10.0.0.0/8", "users.read": True}
    }

    confirm = staff.get("/console/templates/planner/delete")
    assert confirm.status_code == 200 and 'id="confirm-delete"' in confirm.text
    forged = staff.post("/console/templates/planner/delete", data={"csrf": "forged"})
    assert forged.status_code == 403 and _template_rights(runtime, "planner") is not None
    deleted = staff.post("/console/templates/planner/delete", data={"csrf": csrf})
    assert deleted.status_code == 303 and _template_rights(runtime, "planner") is None


def test_csv_export_then_import_through_the_pages_round_trips(
    staff: TestClient, runtime: Runtime
) -> None:
    csrf = csrf_of(staff.get("/console/templates").text)
    exported = staff.get("/console/templates/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.text.startswith("template,name,context_types,module,acl,value\n")
    before = {k: _template_rights(runtime, k) for k in ("account-user", "account-administrator")}

    staff.post("/console/templates/account-user/delete", data={"csrf": csrf})
    assert _template_rights(runtime, "account-user") is None
    files = {"file": ("acl-templates.csv", exported.content, "text/csv")}
    imported = staff.post("/console/templates/import", data={"csrf": csrf}, files=files)
    assert imported.status_code == 200 and 'id="imported"' in imported.text
    assert {k: _template_rights(runtime, k) for k in before} == before
    assert staff.get("/console/templates/export").text == exported.text
    once_more = staff.post("/console/templates/import", data={"csrf": csrf}, files=files)
    result = once_more.text.split('id="imported"')[1].split("</div>")[0]
    assert "Created: –" in result and "Replaced: –" in result


def test_a_bad_csv_row_shows_its_line_and_nothing_is_imported(
    staff: TestClient, runtime: Runtime
) -> None:
    csrf = csrf_of(staff.get("/console/templates").text)
    body = (
        "template,name,context_types,module,acl,value\n"
        "fresh,Fresh,account,ostiary,users.read,true\n"
        "fresh,Fresh,account,ostiary,API IP Allow,not-a-range\n"
    )
    files = {"file": ("t.csv", body.encode(), "text/csv")}
    answer = staff.post("/console/templates/import", data={"csrf": csrf}, files=files)
    assert answer.status_code == 422 and 'id="import-problems"' in answer.text
    problems = answer.text.split('id="import-problems"')[1].split("</ul>")[0]
    assert "line 3" in problems and "not-a-range" in problems
    assert _template_rights(runtime, "fresh") is None
    assert all(e.changes.get("key") != "fresh" for e in _events(runtime, "template.created"))


def test_a_contact_person_cannot_change_templates(carla: TestClient, runtime: Runtime) -> None:
    page = carla.get("/console/templates")
    assert page.status_code == 200 and 'id="template-account-user"' in page.text
    assert 'id="import-csv"' not in page.text and 'id="create-template"' not in page.text
    csrf = csrf_of(page.text)
    files = {"file": ("t.csv", b"template,name,context_types,module,acl,value\nx,X,,,,\n")}
    assert (
        carla.post("/console/templates/import", data={"csrf": csrf}, files=files).status_code == 403
    )
    assert (
        carla.post("/console/templates/account-user/delete", data={"csrf": csrf}).status_code == 403
    )
    assert _template_rights(runtime, "x") is None and _template_rights(runtime, "account-user")


# -- groups ----------------------------------------------------------------------------------


def test_the_contexts_page_links_groups_and_policy_in_reach(
    carla: TestClient, runtime: Runtime
) -> None:
    page = carla.get("/console/contexts").text
    assert 'id="groups-city"' in page and 'id="policy-city-north"' in page
    groups = carla.get(f"/console/contexts/{_context(runtime, 'city').id}/groups").text
    assert "Contact persons" in groups and "Planners" in groups and 'id="create-group"' in groups


def test_a_contact_person_creates_a_group_from_a_template_and_manages_members(
    carla: TestClient, runtime: Runtime
) -> None:
    city = _context(runtime, "city")
    page = carla.get(f"/console/contexts/{city.id}/groups").text
    csrf = csrf_of(page)
    made = carla.post(
        f"/console/contexts/{city.id}/groups/new",
        data={"csrf": csrf, "name": "Readers", "role": "", "template": "account-user"},
    )
    assert made.status_code == 303
    group = _group(runtime, "city", "Readers")
    assert _group_rights(runtime, "city", "Readers") == {
        "ostiary": {"access": True, "contexts.read": True, "users.read": True}
    }
    base = f"/console/contexts/{city.id}/groups/{group.id}"
    outsider = carla.post(f"{base}/members", data={"csrf": csrf, "username": "olga"})
    assert outsider.status_code == 422 and 'id="member-username-error"' in outsider.text
    added = carla.post(f"{base}/members", data={"csrf": csrf, "username": "jeremy"})
    assert added.status_code == 303
    assert "jeremy" in carla.get(base).text.split('id="members"')[1].split("</table>")[0]
    jeremy = user_id(runtime, "jeremy")
    rights = carla.get(f"/console/users/{jeremy}").text
    assert "users.read" in rights.split('id="rights"')[1]
    carla.post(f"{base}/members/remove", data={"csrf": csrf, "user_id": jeremy})
    with runtime.sessions() as session:
        assert session.get(GroupMember, (group.id, uuid.UUID(jeremy))) is None
    forged = carla.post(f"{base}/delete", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert carla.post(f"{base}/delete", data={"csrf": csrf}).status_code == 303
    with runtime.sessions() as session:
        assert session.get(UserGroup, group.id) is None


def test_a_group_stronger_than_the_contact_person_is_refused_and_audited(
    carla: TestClient, runtime: Runtime
) -> None:
    with runtime.sessions() as session:
        problems: list[FieldProblem] = []
        values = RightSets(session).resolve(
            {"ostiary": {"modules.manage": True}}, place="t", problems=problems
        )
        TemplateService(session, Actor.system()).put(
            "strong", name="Strong", context_types=["account"], rights=values
        )
    city = _context(runtime, "city")
    csrf = csrf_of(carla.get(f"/console/contexts/{city.id}/groups").text)
    answer = carla.post(
        f"/console/contexts/{city.id}/groups/new",
        data={"csrf": csrf, "name": "Mighty", "template": "strong"},
    )
    assert answer.status_code == 403 and 'id="refused"' in answer.text
    assert "ostiary.modules.manage" in answer.text and 'value="Mighty"' in answer.text
    with runtime.sessions() as session:
        assert session.scalars(select(UserGroup).where(UserGroup.name == "Mighty")).first() is None
    refused = _events(runtime, "access.escalation_refused")
    assert len(refused) == 1 and refused[0].context_id == city.id

    planners = _group(runtime, "city", "Planners")
    manage = _acl(runtime, "ostiary", "modules.manage")
    stronger = carla.post(
        f"/console/contexts/{city.id}/groups/{planners.id}/rights",
        data={"csrf": csrf, f"r-{manage}": "true"},
    )
    assert stronger.status_code == 403 and 'id="refused"' in stronger.text
    assert _group_rights(runtime, "city", "Planners") == {}
    assert len(_events(runtime, "access.escalation_refused")) == 2


def test_rights_the_contact_person_does_not_hold_are_shown_locked_and_kept(
    staff: TestClient, carla: TestClient, runtime: Runtime
) -> None:
    """A page shows no control for a grant the service would refuse: such a right of a group is
    shown, disabled, and keeps its value when the contact person changes the others."""
    city = _context(runtime, "city")
    planners = _group(runtime, "city", "Planners")
    base = f"/console/contexts/{city.id}/groups/{planners.id}"
    manage, read = (
        _acl(runtime, "ostiary", "modules.manage"),
        _acl(runtime, "ostiary", "users.read"),
    )
    csrf = csrf_of(staff.get(base).text)
    set_by_staff = staff.post(f"{base}/rights", data={"csrf": csrf, f"r-{manage}": "true"})
    assert set_by_staff.status_code == 303

    page = carla.get(base).text
    box = re.search(rf'<input type="checkbox" id="r-{manage}"[^>]*>', page)
    assert box is not None and "disabled" in box.group(0) and "checked" in box.group(0)
    assert f'id="r-{manage}-locked"' in page
    own = re.search(rf'<input type="checkbox" id="r-{read}"[^>]*>', page)
    assert own is not None and "disabled" not in own.group(0)
    german = carla.get(base, headers={"Accept-Language": "de"}).text
    assert "Sie haben dieses Recht selbst nicht" in german

    # The browser does not send a disabled box: the right stays as staff set it.
    changed = carla.post(f"{base}/rights", data={"csrf": csrf_of(page), f"r-{read}": "true"})
    assert changed.status_code == 303, changed.text
    assert _group_rights(runtime, "city", "Planners") == {
        "ostiary": {"modules.manage": True, "users.read": True}
    }
    # Sending it anyway grants nothing the group did not hold, and is not refused for that.
    again = carla.post(
        f"{base}/rights", data={"csrf": csrf_of(page), f"r-{read}": "true", f"r-{manage}": "true"}
    )
    assert again.status_code == 303
    assert _events(runtime, "access.escalation_refused") == []


def test_a_root_group_is_not_found_for_a_contact_person_and_the_attempt_audited(
    carla: TestClient, runtime: Runtime
) -> None:
    root = _context(runtime, "root")
    admins = _group(runtime, "root", "Administrators")
    csrf = csrf_of(carla.get("/console/contexts").text)
    page = carla.get(f"/console/contexts/{root.id}/groups/{admins.id}")
    assert page.status_code == 404 and "Administrators" not in page.text
    edit = carla.post(
        f"/console/contexts/{root.id}/groups/{admins.id}",
        data={"csrf": csrf, "name": "Mine now"},
    )
    assert edit.status_code == 404
    assert _group(runtime, "root", "Administrators").name == "Administrators"
    # A root group reached through a context in reach is not found either.
    city = _context(runtime, "city")
    assert carla.get(f"/console/contexts/{city.id}/groups/{admins.id}").status_code == 404
    refused = [e for e in _events(runtime, "access.out_of_reach") if e.target_id == str(root.id)]
    assert len(refused) == 2


def test_a_bad_text_right_is_shown_by_its_field_and_changes_nothing(
    carla: TestClient, runtime: Runtime
) -> None:
    city = _context(runtime, "city")
    planners = _group(runtime, "city", "Planners")
    ip_allow = _acl(runtime, "ostiary", "API IP Allow")
    users_read = _acl(runtime, "ostiary", "users.read")
    csrf = csrf_of(carla.get("/console/contexts").text)
    answer = carla.post(
        f"/console/contexts/{city.id}/groups/{planners.id}/rights",
        data={"csrf": csrf, f"r-{ip_allow}": "not-a-cidr", f"r-{users_read}": "true"},
    )
    assert answer.status_code == 422
    error = re.search(rf'id="r-{ip_allow}-error">([^<]+)<', answer.text)
    assert error and "not-a-cidr" in error.group(1)
    assert 'value="not-a-cidr"' in answer.text and 'aria-invalid="true"' in answer.text
    assert _group_rights(runtime, "city", "Planners") == {}
    good = carla.post(
        f"/console/contexts/{city.id}/groups/{planners.id}/rights",
        data={"csrf": csrf, f"r-{ip_allow}": "0.0.0.0/0", f"r-{users_read}": "true"},
    )
    assert good.status_code == 303
    assert _group_rights(runtime, "city", "Planners") == {
        "ostiary": {"API IP Allow": "0.0.0.0/0", "users.read": True}
    }


def test_a_forged_group_form_is_refused_and_changes_nothing(
    carla: TestClient, runtime: Runtime
) -> None:
    city = _context(runtime, "city")
    answer = carla.post(
        f"/console/contexts/{city.id}/groups/new", data={"csrf": "forged", "name": "Forged"}
    )
    assert answer.status_code == 403
    with runtime.sessions() as session:
        assert session.scalars(select(UserGroup).where(UserGroup.name == "Forged")).first() is None


# -- policies --------------------------------------------------------------------------------


def test_a_policy_is_set_from_above_from_a_template_and_cleared(
    carla: TestClient, runtime: Runtime
) -> None:
    city, north = _context(runtime, "city"), _context(runtime, "city-north")
    own = carla.get(f"/console/contexts/{city.id}/policy")
    assert own.status_code == 200 and 'id="save-policy"' not in own.text
    csrf = csrf_of(own.text)
    refused = carla.post(
        f"/console/contexts/{city.id}/policy/rights",
        data={"csrf": csrf, "source": "template", "template": "account-user"},
    )
    assert refused.status_code == 404 and not _context(runtime, "city").has_access_policy

    below = carla.get(f"/console/contexts/{north.id}/policy").text
    assert 'id="save-policy"' in below and 'id="clear-policy"' not in below
    done = carla.post(
        f"/console/contexts/{north.id}/policy/rights",
        data={"csrf": csrf, "source": "template", "template": "account-user"},
    )
    assert done.status_code == 303 and _context(runtime, "city-north").has_access_policy
    with runtime.sessions() as session:
        template = session.scalars(
            select(AclTemplate).where(AclTemplate.key == "account-user")
        ).one()
        expected = {r.acl_id: r.value for r in template.rights}
    with runtime.sessions() as session:
        assert PolicyService(session, Actor.system()).values(_context(runtime, "city-north")) == (
            expected
        )
    shown = carla.get(f"/console/contexts/{north.id}/policy").text
    assert 'id="clear-policy"' in shown
    cleared = carla.post(f"/console/contexts/{north.id}/policy/clear", data={"csrf": csrf})
    assert cleared.status_code == 303 and not _context(runtime, "city-north").has_access_policy
    assert [e.action for e in _events(runtime, "policy.set")] == ["policy.set"]
    assert len(_events(runtime, "policy.cleared")) == 1


def test_a_bad_policy_value_is_shown_by_its_field(carla: TestClient, runtime: Runtime) -> None:
    north = _context(runtime, "city-north")
    ip_allow = _acl(runtime, "ostiary", "API IP Allow")
    csrf = csrf_of(carla.get("/console/contexts").text)
    answer = carla.post(
        f"/console/contexts/{north.id}/policy/rights",
        data={"csrf": csrf, f"r-{ip_allow}": "300.1.1.1/8"},
    )
    assert answer.status_code == 422 and f'id="r-{ip_allow}-error"' in answer.text
    assert not _context(runtime, "city-north").has_access_policy


def test_staff_apply_a_template_to_a_group_and_its_values_are_copied(
    staff: TestClient, runtime: Runtime
) -> None:
    city = _context(runtime, "city")
    planners = _group(runtime, "city", "Planners")
    base = f"/console/contexts/{city.id}/groups/{planners.id}"
    page = staff.get(base).text
    assert 'id="apply"' in page and 'value="root-administrator"' not in page
    csrf = csrf_of(page)
    applied = staff.post(
        f"{base}/rights", data={"csrf": csrf, "source": "template", "template": "account-user"}
    )
    assert applied.status_code == 303
    copied = _template_rights(runtime, "account-user")
    assert _group_rights(runtime, "city", "Planners") == copied
    staff.post(
        "/console/templates/account-user",
        data={"csrf": csrf, "name": "Account user", "context_types": "account"},
    )
    assert _template_rights(runtime, "account-user") == {}
    assert _group_rights(runtime, "city", "Planners") == copied
    wrong_type = staff.post(
        f"{base}/rights",
        data={"csrf": csrf, "source": "template", "template": "root-administrator"},
    )
    assert wrong_type.status_code == 422 and 'id="apply-template-error"' in wrong_type.text
    assert _group_rights(runtime, "city", "Planners") == copied


def test_rights_that_cannot_go_show_no_remove_button(staff: TestClient) -> None:
    kept = staff.get("/console/modules/ostiary/acl", params={"acl": "access"})
    assert kept.status_code == 200 and 'id="remove-acl"' not in kept.text
    assert 'id="delete-module"' not in staff.get("/console/modules/ostiary").text
    csrf = csrf_of(kept.text)
    refused = staff.post(
        "/console/modules/ostiary/acl/delete", data={"csrf": csrf, "acl": "access"}
    )
    assert refused.status_code == 422
    assert "access" in staff.get("/console/modules/ostiary").text


def test_the_access_pages_speak_german(carla: TestClient, runtime: Runtime) -> None:
    city = _context(runtime, "city")
    german = {"accept-language": "de"}
    groups = carla.get(f"/console/contexts/{city.id}/groups", headers=german).text
    assert "Gruppen von City Group" in groups and "Gruppe anlegen" in groups
    policy = carla.get(f"/console/contexts/{city.id}/policy", headers=german).text
    assert "Zugriffsrichtlinie von City Group" in policy
    assert "ACL-Vorlagen" in carla.get("/console/templates", headers=german).text


def test_members_change_in_place_with_htmx(carla: TestClient, runtime: Runtime) -> None:
    city = _context(runtime, "city")
    planners = _group(runtime, "city", "Planners")
    base = f"/console/contexts/{city.id}/groups/{planners.id}"
    csrf = csrf_of(carla.get(base).text)
    htmx = {"hx-request": "true"}
    added = carla.post(f"{base}/members", data={"csrf": csrf, "username": "jeremy"}, headers=htmx)
    assert added.status_code == 200 and added.text.lstrip().startswith("<section")
    assert 'id="members-notice"' in added.text and ">jeremy</a>" in added.text
    unknown = carla.post(f"{base}/members", data={"csrf": csrf, "username": "nobody"}, headers=htmx)
    assert unknown.status_code == 200 and 'id="member-username-error"' in unknown.text
    assert 'value="nobody"' in unknown.text and 'id="members-notice"' not in unknown.text
    removed = carla.post(
        f"{base}/members/remove",
        data={"csrf": csrf, "user_id": user_id(runtime, "jeremy")},
        headers=htmx,
    )
    assert removed.status_code == 200 and ">jeremy</a>" not in removed.text
