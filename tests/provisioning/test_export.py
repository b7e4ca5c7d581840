"""``export_document``: the stored state in the provisioning format, ready to apply elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from ostiary.audit.actor import Actor
from ostiary.clients.services import ClientService
from ostiary.runtime import Runtime
from tests.provisioning.support import (
    ALICE_PASSWORD,
    CLIENT_SECRET,
    FULL,
    apply_text,
    export_text,
)


def test_export_applied_on_an_empty_database_gives_the_same_state(
    runtime: Runtime, fresh_runtime: Callable[[], Runtime], tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FULL)
    exported = export_text(runtime)
    assert apply_text(runtime, tmp_path, exported).unchanged

    target = fresh_runtime()
    report = apply_text(target, tmp_path, exported)

    assert report.lines()[0] == "created context acme-group"
    assert export_text(target) == exported
    assert apply_text(target, tmp_path, exported).unchanged


def test_a_move_with_hashes_keeps_passwords(
    runtime: Runtime, fresh_runtime: Callable[[], Runtime], tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FULL)
    exported = export_text(runtime, with_secrets=True)

    target = fresh_runtime()
    apply_text(target, tmp_path, exported)

    assert export_text(target, with_secrets=True) == exported
    with target.sessions() as session:
        assert target.basic.authenticate(session, "alice", ALICE_PASSWORD).username == "alice"
        # Client secret digests are not tied to the server: they move as they are.
        clients = ClientService(session, Actor("test", "cli"))
        assert clients.secret_matches(clients.get("ep-web"), CLIENT_SECRET)


def test_the_first_start_state_exports_and_applies_unchanged(
    runtime: Runtime, fresh_runtime: Callable[[], Runtime], tmp_path: Path
) -> None:
    exported = export_text(runtime)
    sections = yaml.safe_load(exported)

    assert [c["key"] for c in sections["contexts"]] == ["root"]
    assert [u["username"] for u in sections["users"]] == ["admin"]
    assert sections["groups"][0]["name"] == "Administrators"
    assert apply_text(runtime, tmp_path, exported).unchanged
    assert apply_text(fresh_runtime(), tmp_path, exported).unchanged


def test_parents_come_before_children_and_defaults_are_left_out(
    runtime: Runtime, tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FULL)

    sections = yaml.safe_load(export_text(runtime))

    keys = [context["key"] for context in sections["contexts"]]
    assert keys == ["root", "acme-group", "acme", "acme-shop", "acme-sub"]
    acme_sub = sections["contexts"][4]
    assert acme_sub == {
        "key": "acme-sub",
        "type": "account",
        "name": "Acme Subsidiary",
        "parent": "acme",
    }
    bob = next(user for user in sections["users"] if user["username"] == "bob")
    assert bob == {
        "username": "bob",
        "domain": "PARTNER",
        "status": "inactive",
        "memberships": [{"context": "acme-sub"}],
    }
    batch = next(c for c in sections["clients"] if c["client_id"] == "ep-batch")
    assert batch == {
        "client_id": "ep-batch",
        "name": "EP batch",
        "grant_types": ["client_credentials"],
        # Its service account's memberships are always stated, as a user's are.
        "service_account": {"memberships": []},
    }
