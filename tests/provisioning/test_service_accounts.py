"""Clients' service accounts in the provisioning file: their memberships and groups, applied
exactly, exported with the client (never among the users), and checked like a user's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from ostiary.access.models import GroupMember, UserGroup
from ostiary.audit.actor import Actor
from ostiary.clients.services import ClientService
from ostiary.contexts.models import Context
from ostiary.errors import FieldProblem, InvalidInput
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User
from tests.provisioning.support import apply_text, export_text

BASE = """
contexts:
  - {key: acme, type: account, name: Acme, parent: root}
  - {key: other, type: account, name: Other, parent: root}
groups:
  - {context: acme, name: Readers, rights: {ostiary: {access: true, users.read: true}}}
  - {context: acme, name: Writers, rights: {ostiary: {access: true, users.manage: true}}}
  - {context: other, name: Readers, rights: {ostiary: {access: true, users.read: true}}}
"""


def with_client(service_account: str) -> str:
    return (
        BASE
        + """
clients:
  - client_id: crm-sync
    name: CRM sync
    module: ostiary
    grant_types: [client_credentials]
"""
        + service_account
    )


def standing(runtime: Runtime) -> tuple[str, dict[str, list[str]]]:
    """The account's status, and its contexts with its groups there."""
    with runtime.sessions() as session:
        client = ClientService(session, Actor("test", "cli")).get("crm-sync")
        account = session.get(User, client.service_account_user_id)
        assert account is not None and account.service_account
        contexts = session.scalars(
            select(Context.key)
            .join(Membership, Membership.context_id == Context.id)
            .where(Membership.user_id == account.id)
        ).all()
        groups = session.execute(
            select(Context.key, UserGroup.name)
            .join(UserGroup, UserGroup.context_id == Context.id)
            .join(GroupMember, GroupMember.group_id == UserGroup.id)
            .where(GroupMember.user_id == account.id)
        ).all()
        found: dict[str, list[str]] = {key: [] for key in contexts}
        for key, name in groups:
            found[key].append(name)
        return account.status, {key: sorted(names) for key, names in found.items()}


def test_memberships_and_groups_are_applied_exactly_and_once(
    runtime: Runtime, tmp_path: Path
) -> None:
    text = with_client("""    service_account:
      memberships:
        - {context: acme, groups: [Readers, Writers]}
        - {context: other}
""")
    report = apply_text(runtime, tmp_path, text)
    assert "created client crm-sync" in report.lines()
    assert standing(runtime) == ("active", {"acme": ["Readers", "Writers"], "other": []})
    assert apply_text(runtime, tmp_path, text).unchanged

    fewer = with_client("""    service_account:
      status: inactive
      memberships: [{context: acme, groups: [Readers]}]
""")
    assert apply_text(runtime, tmp_path, fewer).lines() == ["updated client crm-sync"]
    assert standing(runtime) == ("inactive", {"acme": ["Readers"]})
    assert apply_text(runtime, tmp_path, fewer).unchanged


def test_a_client_entry_without_it_leaves_the_account_as_it_is(
    runtime: Runtime, tmp_path: Path
) -> None:
    apply_text(
        runtime,
        tmp_path,
        with_client("    service_account: {memberships: [{context: acme, groups: [Readers]}]}\n"),
    )
    assert apply_text(runtime, tmp_path, with_client("")).unchanged
    assert standing(runtime) == ("active", {"acme": ["Readers"]})


def test_export_writes_it_with_its_client_and_round_trips(
    runtime: Runtime, fresh_runtime: Callable[[], Runtime], tmp_path: Path
) -> None:
    apply_text(
        runtime,
        tmp_path,
        with_client("""    service_account:
      status: inactive
      memberships: [{context: acme, groups: [Writers, Readers]}, {context: other}]
"""),
    )
    exported = export_text(runtime)
    sections = yaml.safe_load(exported)
    assert all(not u["username"].startswith("service-account-") for u in sections["users"])
    (crm,) = [c for c in sections["clients"] if c["client_id"] == "crm-sync"]
    assert crm["service_account"] == {
        "status": "inactive",
        "memberships": [
            {"context": "acme", "groups": ["Readers", "Writers"]},
            {"context": "other"},
        ],
    }
    assert apply_text(runtime, tmp_path, exported).unchanged

    target = fresh_runtime()
    apply_text(target, tmp_path, exported)
    assert export_text(target) == exported
    assert standing(target) == ("inactive", {"acme": ["Readers", "Writers"], "other": []})


def test_problems_are_named_by_their_place(runtime: Runtime, tmp_path: Path) -> None:
    text = (
        BASE
        + """
users:
  - {username: service-account-forged, domain: CSP}
clients:
  - client_id: crm-sync
    name: CRM sync
    grant_types: [client_credentials]
    service_account:
      memberships:
        - {context: nowhere}
        - {context: acme, groups: [Missing]}
  - client_id: web
    name: Web
    redirect_uris: [https://web.example/cb]
    service_account: {memberships: [{context: acme}]}
"""
    )
    with pytest.raises(InvalidInput) as raised:
        apply_text(runtime, tmp_path, text)
    assert raised.value.problems == [
        FieldProblem("users[0].username", "must not start with 'service-account-'"),
        FieldProblem(
            "clients[0].service_account.memberships[0].context", "no context with key 'nowhere'"
        ),
        FieldProblem(
            "clients[0].service_account.memberships[1].groups[0]",
            "no group 'Missing' in context 'acme'",
        ),
        FieldProblem(
            "clients[1].service_account",
            "only a confidential client allowed client_credentials has a service account",
        ),
    ]
