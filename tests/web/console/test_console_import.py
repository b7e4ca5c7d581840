"""``/console/users/import``: a bad file is refused whole with its problems by line; a good
file imports through the import service, and the job's page polls its progress to the end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from ostiary.imports.models import UserImport
from ostiary.imports.problems import RowProblem
from ostiary.runtime import Runtime
from ostiary.text import Text
from ostiary.users.models import User
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.support import csrf_of, make_world, sign_in, user_id

HEADER = "username,email,first_name,last_name,domain,status,context,groups"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def browser(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    make_world(runtime, tmp_path)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _csv(rows: int, start: int = 0) -> bytes:
    lines = [
        f"new{i},new{i}@city.example,New,Person {i},ENTERPRISE,active,city,Planners"
        for i in range(start, start + rows)
    ]
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def _users(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def _upload(browser: TestClient, csrf: str, body: bytes) -> object:
    return browser.post(
        "/console/users/import",
        data={"csrf": csrf},
        files={"file": ("users.csv", body, "text/csv")},
    )


def test_a_bad_file_shows_its_problems_by_line_and_imports_nothing(
    browser: TestClient, runtime: Runtime
) -> None:
    sign_in(browser, "carla", "City Group")
    page = browser.get("/console/users/import")
    assert page.status_code == 200 and 'id="nav-import" aria-current="page"' in page.text
    before = _users(runtime)
    bad = _csv(2) + b"jeremy,not-an-address,X,Y,ENTERPRISE,active,city,\n,,,,,,nowhere,\n"
    answer = _upload(browser, csrf_of(page.text), bad)
    assert answer.status_code == 422  # type: ignore[attr-defined]
    text = answer.text  # type: ignore[attr-defined]
    assert 'id="problems"' in text and 'id="file-error"' in text
    lines = {int(line) for line in __import__("re").findall(r'<td class="line">(\d+)</td>', text)}
    assert lines == {4, 5}
    assert _users(runtime) == before


def test_a_good_file_imports_in_the_background_and_the_progress_reaches_done(
    browser: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "import_sync_rows", 0)  # every file runs as a job
    sign_in(browser, "carla", "City Group")
    csrf = csrf_of(browser.get("/console/users/import").text)
    before = _users(runtime)
    started = _upload(browser, csrf, _csv(30))
    assert started.status_code == 303  # type: ignore[attr-defined]
    job = started.headers["location"]  # type: ignore[attr-defined]
    assert job.startswith("/console/users/imports/")
    page = browser.get(job)
    assert page.status_code == 200 and 'id="import-progress"' in page.text
    deadline = time.monotonic() + 30
    while True:
        part = browser.get(f"{job}/progress", headers={"hx-request": "true"})
        assert part.status_code == 200 and "<html" not in part.text
        if 'data-status="done"' in part.text:
            break
        assert 'hx-trigger="every 1s"' in part.text
        assert time.monotonic() < deadline, part.text
        time.sleep(0.2)
    assert "30 of 30 rows" in part.text and 'id="import-created">30<' in part.text
    assert "hx-get" not in part.text  # done: the polling stops
    assert _users(runtime) == before + 30


def test_a_small_file_imports_at_once(browser: TestClient, runtime: Runtime) -> None:
    sign_in(browser, "carla", "City Group")
    csrf = csrf_of(browser.get("/console/users/import").text)
    done = _upload(browser, csrf, _csv(3))
    report = browser.get(done.headers["location"]).text  # type: ignore[attr-defined]
    assert 'data-status="done"' in report and 'id="import-created">3<' in report


def test_a_forged_form_is_refused_and_imports_nothing(
    browser: TestClient, runtime: Runtime
) -> None:
    sign_in(browser, "carla", "City Group")
    before = _users(runtime)
    assert _upload(browser, "forged", _csv(3)).status_code == 403  # type: ignore[attr-defined]
    assert _users(runtime) == before


def test_another_admins_job_is_not_found(browser: TestClient, runtime: Runtime) -> None:
    sign_in(browser, "carla", "City Group")
    done = _upload(browser, csrf_of(browser.get("/console/users/import").text), _csv(1))
    job = done.headers["location"]  # type: ignore[attr-defined]
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as olga:
        sign_in(olga, "olga")
        assert olga.get(job).status_code == 404
        assert olga.get(f"{job}/progress").status_code == 404


def test_without_the_right_no_section_and_refused(
    browser: TestClient, client: TestClient, runtime: Runtime
) -> None:
    """A member who may read users but not manage them sees no import, and is refused."""
    city = client.get("/api/v1/contexts", params={"q": "City Group"}).json()["items"]
    city_id = next(c["id"] for c in city if c["name"] == "City Group")
    made = client.post(
        f"/api/v1/contexts/{city_id}/groups",
        json={
            "name": "Readers",
            "template": "account-user",
            "rights": {"ostiary": {"API IP Allow": "0.0.0.0/0"}},
        },
    )
    assert made.status_code == 201, made.text
    member = client.put(
        f"/api/v1/contexts/{city_id}/groups/{made.json()['id']}/members/"
        f"{user_id(runtime, 'jeremy')}"
    )
    assert member.status_code == 204, member.text
    home = sign_in(browser, "jeremy")
    assert 'id="nav-users"' in home and 'id="nav-import"' not in home
    assert browser.get("/console/users/import").status_code == 403
    before = _users(runtime)
    refused = _upload(browser, csrf_of(home), _csv(2))
    assert refused.status_code == 403 and _users(runtime) == before  # type: ignore[attr-defined]


def test_a_jobs_problems_show_in_the_pages_language(
    browser: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Problems kept with a job keep their template: the progress page translates them."""
    monkeypatch.setattr(runtime.settings, "import_sync_rows", 0)
    sign_in(browser, "carla", "City Group")
    csrf = csrf_of(browser.get("/console/users/import").text)
    job = _upload(browser, csrf, _csv(1)).headers["location"]  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while 'data-status="done"' not in browser.get(f"{job}/progress").text:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    problem = RowProblem(
        7, "context", Text("no context with key or number '{context}'", context="nowhere")
    )
    with runtime.sessions() as session, session.atomic():
        session.execute(
            update(UserImport)
            .where(UserImport.id == uuid.UUID(job.rsplit("/", 1)[1]))
            .values(problems=[problem.stored()])
        )
    german = browser.get(f"{job}/progress", headers={"Accept-Language": "de"}).text
    assert "kein Kontext mit dem Schlüssel oder der Nummer &#39;nowhere&#39;" in german
    english = browser.get(f"{job}/progress").text
    assert "no context with key or number &#39;nowhere&#39;" in english
