"""Every way of setting a password goes through the one policy: admin API, provisioning file,
setup page and bootstrap password (change and reset have their own tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ostiary.errors import InvalidInput
from ostiary.runtime import Runtime
from tests.helpers import assert_problem, make_user
from tests.provisioning.support import apply_text
from tests.test_cli import run


def test_admin_api_names_field_and_rule(client: TestClient) -> None:
    body = assert_problem(
        client.post(
            "/api/v1/users",
            json={"username": "rita", "domain": "CSP", "password": "QWERTY123456"},
        ),
        422,
        "invalid-input",
        "password",
    )
    assert body["errors"] == [
        {
            "field": "password",
            "message": "is one of the 10,000 most common passwords",
            "rule": "common_password",
        }
    ]
    user = make_user(client, "s.smith", domain="CSP", email="sam.smith@example.com")
    body = assert_problem(
        client.put(
            f"/api/v1/users/{user['id']}/password",
            json={"password": "I am Sam.Smith, of course"},
        ),
        422,
        "invalid-input",
        "password",
    )
    assert [e["rule"] for e in body["errors"]] == ["contains_email"]
    ok = client.put(
        f"/api/v1/users/{user['id']}/password", json={"password": "a" * 20 + " long phrase " * 5}
    )
    assert ok.status_code == 204


def test_provisioning_reports_one_line_per_problem(runtime: Runtime, tmp_path: Path) -> None:
    text = (
        "users:\n"
        "  - {username: ivy, domain: CSP, email: ivy.green@example.com,"
        " password: 'my name is ivy.green'}\n"
    )
    with pytest.raises(InvalidInput) as raised:
        apply_text(runtime, tmp_path, text)
    assert [str(p) for p in raised.value.problems] == [
        "users[0].password: must not contain the username"
    ]
    with pytest.raises(InvalidInput) as raised:
        apply_text(
            runtime,
            tmp_path,
            "users:\n  - {username: ivo, domain: CSP, password: 'LeaveMeAlone'}\n",
        )
    assert [str(p) for p in raised.value.problems] == [
        "users[0].password: is one of the 10,000 most common passwords"
    ]


def test_a_common_bootstrap_password_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", OSTIARY_BOOTSTRAP_ADMIN_PASSWORD="Qwerty123456")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "is one of the 10,000 most common passwords" in result.stderr
