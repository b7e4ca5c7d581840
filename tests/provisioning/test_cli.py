"""``ostiary apply`` and ``ostiary export`` end to end, on SQLite in a working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ostiary.cli import app
from tests.conftest import ADMIN_PASSWORD
from tests.provisioning.support import BAD, FULL, FULL_CREATED, write


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("OSTIARY_CONFIG", "OSTIARY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OSTIARY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OSTIARY_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("OSTIARY_ARGON2_MEMORY_COST_KIB", "1024")
    monkeypatch.setenv("OSTIARY_ARGON2_TIME_COST", "1")
    return CliRunner()


def _change_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("created ", "updated "))]


def test_apply_creates_then_says_unchanged(cli: CliRunner, tmp_path: Path) -> None:
    good = write(tmp_path, FULL, "good.yaml")

    first = cli.invoke(app, ["apply", str(good)])
    second = cli.invoke(app, ["apply", str(good)])

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-16:] == [*FULL_CREATED, "15 created, 0 updated, 0 unchanged"]
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[-1] == "unchanged"
    assert not _change_lines(second.stdout)


def test_a_bad_file_is_refused_with_each_problem_on_its_line(
    cli: CliRunner, tmp_path: Path
) -> None:
    bad = write(tmp_path, BAD, "bad.yaml")

    result = cli.invoke(app, ["apply", str(bad)])

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "users[2].phone: is not a valid phone number" in lines
    assert "users[1].memberships[0].context: no context with key 'acme'" in lines
    assert lines[-1] == "error: nothing applied: 5 problem(s) in the file"
    assert not _change_lines(result.stdout)


def test_export_writes_a_file_that_applies_unchanged(cli: CliRunner, tmp_path: Path) -> None:
    cli.invoke(app, ["apply", str(write(tmp_path, FULL, "good.yaml"))])

    printed = cli.invoke(app, ["export"])
    to_file = cli.invoke(app, ["export", "--output", "state.yaml"])
    again = cli.invoke(app, ["apply", "state.yaml"])

    assert printed.exit_code == 0 and to_file.exit_code == 0
    assert (tmp_path / "state.yaml").read_text() == printed.stdout
    assert "acme-shop" in [c["key"] for c in yaml.safe_load(printed.stdout)["contexts"]]
    assert again.exit_code == 0 and again.stdout.splitlines()[-1] == "unchanged"


def test_names_with_brackets_are_printed_as_written(cli: CliRunner, tmp_path: Path) -> None:
    text = (
        "groups:\n  - {context: root, name: '[ops] Admins'}\n"
        "users:\n"
        "  - {username: kim, domain: CSP, memberships: [{context: root, groups: ['[x]']}]}\n"
    )
    refused = cli.invoke(app, ["apply", str(write(tmp_path, text, "brackets.yaml"))])
    fixed = cli.invoke(app, ["apply", str(write(tmp_path, text.replace("[x]", "[ops] Admins")))])

    assert "users[0].memberships[0].groups[0]: no group '[x]' in context 'root'" in refused.stderr
    assert "created group [ops] Admins in root" in fixed.stdout.splitlines()
