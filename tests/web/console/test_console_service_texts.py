"""The services' messages on the console's pages, in the page's language with their values:
next to a right's field, a group's name, and in the problems of an imported CSV file."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.access.models import Acl, Module
from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from tests.web.console import test_console_access
from tests.web.console.support import csrf_of

GERMAN = {"accept-language": "de"}
ENGLISH = {"accept-language": "en"}


# The console world of the access pages: staff (stella) and City Group's contact person.
settings_overrides = test_console_access.settings_overrides
app = test_console_access.app
staff = test_console_access.staff
carla = test_console_access.carla


def _error(page: str, element: str) -> str:
    found = re.search(rf'id="{re.escape(element)}"[^>]*>(.*?)</(?:p|ul|table)>', page, re.S)
    assert found, page
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def _ip_allow(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        acl = session.scalars(
            select(Acl).join(Module).where(Module.key == "ostiary", Acl.key == "API IP Allow")
        ).one()
        return str(acl.id)


def _city(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        return str(session.scalars(select(Context).where(Context.key == "city")).one().id)


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "'10.0.0.0/33' ist kein IPv4- oder IPv6-CIDR-Bereich"),
        (ENGLISH, "'10.0.0.0/33' is not an IPv4 or IPv6 CIDR range"),
    ],
)
def test_a_bad_cidr_range_is_refused_next_to_its_right(
    staff: TestClient, runtime: Runtime, headers: dict[str, str], said: str
) -> None:
    page = staff.get("/console/templates/account-user", headers=headers).text
    ip_allow = _ip_allow(runtime)
    form = {
        "csrf": csrf_of(page),
        "name": "Account user",
        f"r-{ip_allow}": "10.0.0.0/8 10.0.0.0/33",
    }
    bad = staff.post("/console/templates/account-user", data=form, headers=headers)
    assert bad.status_code == 422
    assert _error(bad.text, f"r-{ip_allow}-error") == said


def test_a_typed_value_in_a_message_stays_text(staff: TestClient, runtime: Runtime) -> None:
    page = staff.get("/console/templates/account-user", headers=GERMAN).text
    ip_allow = _ip_allow(runtime)
    form = {"csrf": csrf_of(page), "name": "Account user", f"r-{ip_allow}": "<script>x</script>"}
    bad = staff.post("/console/templates/account-user", data=form, headers=GERMAN)
    assert bad.status_code == 422 and "<script>x" not in bad.text
    assert _error(bad.text, f"r-{ip_allow}-error") == (
        "'<script>x</script>' ist kein IPv4- oder IPv6-CIDR-Bereich"
    )


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "der Kontext hat bereits eine Gruppe namens 'Planners'"),
        (ENGLISH, "the context already has a group named 'Planners'"),
    ],
)
def test_a_taken_group_name_is_refused_next_to_the_name(
    carla: TestClient, runtime: Runtime, headers: dict[str, str], said: str
) -> None:
    groups = f"/console/contexts/{_city(runtime)}/groups"
    csrf = csrf_of(carla.get(groups, headers=headers).text)
    taken = carla.post(
        f"{groups}/new",
        data={"csrf": csrf, "name": "Planners", "role": "", "template": ""},
        headers=headers,
    )
    assert taken.status_code == 409
    assert _error(taken.text, "new-name-error") == said


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (
            GERMAN,
            "Zeile 2: ostiary.API IP Allow: 'not-a-range' ist kein IPv4- oder IPv6-CIDR-Bereich",
        ),
        (ENGLISH, "line 2: ostiary.API IP Allow: 'not-a-range' is not an IPv4 or IPv6 CIDR range"),
    ],
)
def test_a_bad_row_of_a_template_file_is_named_by_its_line(
    staff: TestClient, headers: dict[str, str], said: str
) -> None:
    csrf = csrf_of(staff.get("/console/templates", headers=headers).text)
    body = "template,name,context_types,module,acl,value\nfresh,Fresh,account,ostiary,API IP Allow,not-a-range\n"
    files = {"file": ("t.csv", body.encode(), "text/csv")}
    answer = staff.post(
        "/console/templates/import", data={"csrf": csrf}, files=files, headers=headers
    )
    assert answer.status_code == 422
    assert _error(answer.text, "import-problems") == said


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (
            GERMAN,
            [
                "unbekannter Status 'zombie' (bekannt: draft, active, inactive)",
                "muss yes oder no sein (oder leer)",
            ],
        ),
        (
            ENGLISH,
            [
                "unknown status 'zombie' (known: draft, active, inactive)",
                "must be yes or no (or empty)",
            ],
        ),
    ],
)
def test_the_problems_of_a_user_import_are_said_in_the_page_s_language(
    carla: TestClient, headers: dict[str, str], said: list[str]
) -> None:
    csrf = csrf_of(carla.get("/console/users/import", headers=headers).text)
    body = "username,status,context,invite\nnew1,zombie,city,maybe\n"
    files = {"file": ("users.csv", body.encode(), "text/csv")}
    answer = carla.post("/console/users/import", data={"csrf": csrf}, files=files, headers=headers)
    assert answer.status_code == 422
    cells = re.findall(r"<td>([^<]*)</td></tr>", answer.text.split('id="problems"')[1])
    assert sorted(html.unescape(cell) for cell in cells) == sorted(said)


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "ann@city.example hat bereits eine ausstehende Einladung in diesen Kontext"),
        (ENGLISH, "ann@city.example has a pending invitation into this context"),
    ],
)
def test_an_invitation_refused_for_its_address_names_it(
    carla: TestClient, headers: dict[str, str], said: str
) -> None:
    csrf = csrf_of(carla.get("/console/invitations", headers=headers).text)
    invite = {"csrf": csrf, "emails": "ann@city.example"}
    assert carla.post("/console/invitations", data=invite, headers=headers).status_code == 200
    again = carla.post("/console/invitations", data=invite, headers=headers)
    refused = re.findall(r'<span class="error">([^<]*)', again.text)
    assert [html.unescape(r).split(":")[0] for r in refused] == [said]
