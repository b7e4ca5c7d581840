"""The ``ostiary`` command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    environment.update(
        {"OSTIARY_ARGON2_MEMORY_COST_KIB": "1024", "OSTIARY_ARGON2_TIME_COST": "1", **env}
    )
    return subprocess.run(
        [sys.executable, "-m", "ostiary.cli", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_first_start_prints_a_one_time_setup_link(tmp_path: Path) -> None:
    first = run(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    link = re.search(r"http://127\.0\.0\.1:8000/setup\?token=\S+", first.stdout)
    assert link, first.stdout
    assert (tmp_path / "ostiary.db").exists() and (tmp_path / "ostiary-secret.key").exists()
    assert oct((tmp_path / "ostiary-secret.key").stat().st_mode & 0o777) == "0o600"
    # Until the password is chosen, each start gives a new link (the old one stops working).
    second = run(tmp_path, "migrate")
    other = re.search(r"setup\?token=\S+", second.stdout)
    assert other and other.group(0) not in first.stdout


def test_bootstrap_password_from_the_environment(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", OSTIARY_BOOTSTRAP_ADMIN_PASSWORD="a fine first password")
    assert result.returncode == 0, result.stderr
    assert "setup?token" not in result.stdout
    assert "First administrator 'admin' created" in result.stdout
    assert "a fine first password" not in result.stdout + result.stderr
    again = run(tmp_path, "migrate", OSTIARY_BOOTSTRAP_ADMIN_PASSWORD="a fine first password")
    assert "First administrator" not in again.stdout


def test_weak_bootstrap_password_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", OSTIARY_BOOTSTRAP_ADMIN_PASSWORD="short")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "OSTIARY_BOOTSTRAP_ADMIN_PASSWORD must be at least 12 characters long" in result.stderr


def test_config_masks_secrets(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "config",
        OSTIARY_SECRET_KEY="super-secret-value",
        OSTIARY_DATABASE_URL="postgresql://app:dbpass@db.example/ostiary",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["secret_key"] == "********"
    assert shown["database_url"] == "postgresql+psycopg://app:***@db.example/ostiary"
    assert "super-secret-value" not in result.stdout and "dbpass" not in result.stdout


def test_config_reads_a_toml_file(tmp_path: Path) -> None:
    (tmp_path / "ostiary.toml").write_text(
        'issuer = "https://id.example.com"\npassword_min_length = 14\n'
    )
    shown = json.loads(run(tmp_path, "config").stdout)
    assert shown["issuer"] == "https://id.example.com" and shown["password_min_length"] == 14
    env_wins = json.loads(run(tmp_path, "config", OSTIARY_ISSUER="https://other.example").stdout)
    assert env_wins["issuer"] == "https://other.example"


@pytest.mark.parametrize("args", [["apply", "missing.yaml"], ["serve", "--workers", "0"]])
def test_bad_arguments_exit_non_zero(tmp_path: Path, args: list[str]) -> None:
    assert run(tmp_path, *args).returncode != 0


def test_users_import_reports_validates_and_is_idempotent(tmp_path: Path) -> None:
    password = {"OSTIARY_BOOTSTRAP_ADMIN_PASSWORD": "a fine first password"}
    good = tmp_path / "users.csv"
    good.write_text("username,email,domain,context\nimp,imp@example.com,CSP,root\n")
    first = run(tmp_path, "users", "import", str(good), **password)
    assert first.returncode == 0, first.stderr
    assert "1 rows: 1 created, 0 updated, 0 unchanged, 0 invalid" in first.stdout
    again = run(tmp_path, "users", "import", str(good), **password)
    assert "0 created, 0 updated, 1 unchanged" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "username,email,domain,context\nok,ok@example.com,CSP,root\n"
        "no,no@,CSP,root\nelse,,CSP,nowhere\n"
    )
    result = run(tmp_path, "users", "import", str(bad), **password)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("line 3, email: ")
    assert lines[1] == "line 4, context: no context with key or number 'nowhere'"
    assert lines[-1] == "error: nothing imported: 2 bad row(s) in the file"
    dry = run(tmp_path, "users", "import", str(good), "--dry-run", **password)
    assert dry.stdout.startswith("dry run, nothing written: 1 rows: 0 created")


def test_users_import_killed_midway_continues_when_run_again(tmp_path: Path) -> None:
    import signal
    import sqlite3
    import time

    password = {"OSTIARY_BOOTSTRAP_ADMIN_PASSWORD": "a fine first password"}
    assert run(tmp_path, "migrate", **password).returncode == 0
    rows = 4000
    file = tmp_path / "many.csv"
    file.write_text(
        "username,domain,last_name,context\n"
        + "".join(f"k{i:05},CSP,Kill{i},root\n" for i in range(rows))
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    environment.update(password)
    process = subprocess.Popen(
        [sys.executable, "-m", "ostiary.cli", "users", "import", str(file)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = sqlite3.connect(tmp_path / "ostiary.db", timeout=30)
    try:
        done = 0
        for _ in range(1200):
            found = database.execute("select max(rows_done) from user_imports").fetchone()
            done = (found and found[0]) or 0
            if done or process.poll() is not None:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert 0 < done < rows, "the import ended before it could be killed midway"
        again = run(tmp_path, "users", "import", str(file), **password)
        assert again.returncode == 0, again.stderr
        assert "continued after row" in again.stdout
        users = database.execute("select count(*) from users where username like 'k%'")
        created = database.execute(
            "select count(*), count(distinct target_id) from audit_events "
            "where action = 'user.created' and changes like '%Kill%'"
        )
        assert users.fetchone()[0] == rows
        assert created.fetchone() == (rows, rows)
    finally:
        database.close()
        if process.poll() is None:
            process.kill()
