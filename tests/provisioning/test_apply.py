"""``Provisioner.apply``: a whole setup from one file, idempotent, and all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from ostiary.access.groups import GroupService
from ostiary.access.modules import ModuleService
from ostiary.access.rightsets import RightSets
from ostiary.access.templates import TemplateService
from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.clients.secrets import hash_secret
from ostiary.clients.services import ClientService
from ostiary.contexts.models import Context
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput
from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from ostiary.users.domains import DomainService
from ostiary.users.memberships import MembershipService
from ostiary.users.models import User
from tests.provisioning.support import (
    ALICE_PASSWORD,
    BAD,
    CLIENT_SECRET,
    FULL,
    FULL_CREATED,
    apply_text,
    export_text,
    row_counts,
    write,
)

READER = Actor(label="test", via="cli")


def _context(session: OstiarySession, key: str) -> Context:
    context = ContextService(session, READER).get_by_key(key)
    assert context is not None
    return context


def _user(session: OstiarySession, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _memberships(session: OstiarySession, user: User) -> dict[str, list[str]]:
    """The user's contexts, each with the names of the user's groups there."""
    found: dict[str, list[str]] = {}
    for _, context in MembershipService(session, READER).list(user):
        groups = GroupService(session, READER)
        found[context.key] = sorted(
            name
            for name in ("Admins", "Readers", "Auditors")
            if (group := groups.find(context, name)) is not None
            and any(member.user_id == user.id for member in group.members)
        )
    return found


def _group_rights(session: OstiarySession, context_key: str, name: str) -> dict[str, object]:
    group = GroupService(session, READER).find(_context(session, context_key), name)
    assert group is not None
    return RightSets(session).describe((right.acl, right.value) for right in group.rights)


def test_a_full_file_creates_every_section(runtime: Runtime, tmp_path: Path) -> None:
    report = apply_text(runtime, tmp_path, FULL)

    assert report.lines() == FULL_CREATED
    assert not report.unchanged
    assert report.summary() == "15 created, 0 updated, 0 unchanged"
    with runtime.sessions() as session:
        acme = _context(session, "acme")
        assert (acme.type, acme.name, acme.number) == ("account", "Acme Ltd", "10042")
        assert acme.email_domains == ["acme.example"]
        assert acme.parent_id == _context(session, "acme-group").id
        shop = _context(session, "acme-shop")
        assert (shop.status, shop.path.startswith(acme.path)) == ("pending", True)

        partner = DomainService(session, READER).find("PARTNER")
        assert partner is not None and partner.context_types == ["account", "customer"]

        module = ModuleService(session, READER).find("ep")
        assert module is not None and module.access_right == "epModuleAccess"
        assert [(a.key, a.type) for a in module.acls] == [
            ("API IP Allow", "text"),
            ("epInvoices", "bool"),
            ("epModuleAccess", "bool"),
        ]
        template = TemplateService(session, READER).find("ep-admin")
        assert template is not None and template.context_types == ["account"]
        # The template's values first, then the group's own over them.
        assert _group_rights(session, "acme", "Admins") == {
            "ep": {"API IP Allow": "10.0.0.0/8", "epInvoices": False, "epModuleAccess": True}
        }
        admins = GroupService(session, READER).find(acme, "Admins")
        assert admins is not None and admins.role == "admin"

        alice = _user(session, "alice")
        assert (alice.email, alice.phone, alice.status) == (
            "Alice@acme.example",
            "+41446681800",
            "active",
        )
        assert (alice.language, alice.two_factor, alice.domain.name) == (
            "de-CH",
            "email",
            "ENTERPRISE",
        )
        assert _memberships(session, alice) == {"acme": ["Admins", "Readers"], "acme-shop": []}
        bob = _user(session, "bob")
        assert (bob.status, bob.password_hash) == ("inactive", None)
        assert _memberships(session, bob) == {"acme-sub": []}
        assert _memberships(session, _user(session, "carol")) == {"root": ["Auditors"]}

        clients = ClientService(session, READER)
        web = clients.find("ep-web")
        assert web is not None and web.module_id == module.id
        assert web.grant_types == ["authorization_code", "refresh_token"]
        assert web.scopes == ["openid", "email"]
        assert clients.secret_matches(web, CLIENT_SECRET)
        batch = clients.find("ep-batch")
        assert batch is not None and batch.secret_hash is None and batch.redirect_uris == []

        events = session.scalars(select(AuditEvent).where(AuditEvent.via == "provisioning")).all()
        assert {event.actor for event in events} == {"provisioning"}
        assert {"context.created", "user.created", "membership.added", "client.created"} <= {
            event.action for event in events
        }


def test_a_second_apply_changes_nothing_and_writes_no_audit_event(
    runtime: Runtime, tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FULL)
    before = row_counts(runtime)

    again = apply_text(runtime, tmp_path, FULL)

    assert again.unchanged and again.lines() == []
    assert again.summary() == "0 created, 0 updated, 15 unchanged"
    assert row_counts(runtime) == before


def test_a_changed_entry_is_updated_alone(runtime: Runtime, tmp_path: Path) -> None:
    apply_text(runtime, tmp_path, FULL)
    events = row_counts(runtime)["audit_events"]
    changed = (
        FULL.replace("last_name: Smith", "last_name: Jones")
        .replace("      - {context: acme-shop}\n", "")
        .replace(
            "name: Acme Subsidiary, parent: acme}", "name: Acme Subsidiary, parent: acme-group}"
        )
    )

    report = apply_text(runtime, tmp_path, changed)

    assert report.lines() == ["updated context acme-sub", "updated user alice"]
    assert report.summary() == "0 created, 2 updated, 13 unchanged"
    with runtime.sessions() as session:
        alice = _user(session, "alice")
        assert alice.last_name == "Jones"
        assert _memberships(session, alice) == {"acme": ["Admins", "Readers"]}
        assert _context(session, "acme-sub").parent_id == _context(session, "acme-group").id
    # last name, membership removed, context moved
    assert row_counts(runtime)["audit_events"] == events + 3


def test_left_out_fields_keep_their_values_and_null_clears(
    runtime: Runtime, tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FULL)

    report = apply_text(
        runtime, tmp_path, "users:\n  - {username: alice, domain: ENTERPRISE, phone: null}\n"
    )

    assert report.lines() == ["updated user alice"]
    with runtime.sessions() as session:
        alice = _user(session, "alice")
        assert (alice.phone, alice.last_name, alice.status) == (None, "Smith", "active")
        assert set(_memberships(session, alice)) == {"acme", "acme-shop"}


def test_passwords_are_hashed_and_only_changed_when_they_differ(
    runtime: Runtime, tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FULL)
    with runtime.sessions() as session:
        assert runtime.basic.authenticate(session, "alice", ALICE_PASSWORD).username == "alice"
        first_hash = _user(session, "alice").password_hash
        assert first_hash is not None and first_hash.startswith("$argon2id$")

    assert apply_text(runtime, tmp_path, FULL).unchanged
    report = apply_text(runtime, tmp_path, FULL.replace(ALICE_PASSWORD, "a brand new passphrase"))

    assert report.lines() == ["updated user alice"]
    with runtime.sessions() as session:
        assert runtime.basic.authenticate(session, "alice", "a brand new passphrase")
        assert _user(session, "alice").password_hash != first_hash
        events = session.scalars(select(AuditEvent)).all()
    logged = json.dumps([event.changes for event in events])
    for secret in (ALICE_PASSWORD, "a brand new passphrase", CLIENT_SECRET, "$argon2"):
        assert secret not in logged


def test_export_holds_no_password_or_hash_unless_asked(runtime: Runtime, tmp_path: Path) -> None:
    apply_text(runtime, tmp_path, FULL)

    plain = export_text(runtime)
    with_secrets = export_text(runtime, with_secrets=True)

    for secret in (ALICE_PASSWORD, CLIENT_SECRET, "$argon2", "password", "secret"):
        assert secret not in plain
    with runtime.sessions() as session:
        alice = _user(session, "alice")
        web = ClientService(session, READER).find("ep-web")
    assert web is not None and web.secret_hash is not None
    assert f"password_hash: {alice.password_hash}" in with_secrets
    assert f"client_secret_hash: {web.secret_hash}" in with_secrets
    assert ALICE_PASSWORD not in with_secrets and CLIENT_SECRET not in with_secrets


def test_an_invalid_file_lists_every_problem_and_writes_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    before_counts = row_counts(runtime)
    before_export = export_text(runtime, with_secrets=True)

    with pytest.raises(InvalidInput) as raised:
        apply_text(runtime, tmp_path, BAD)

    assert raised.value.problems == [
        FieldProblem("users[2].phone", "is not a valid phone number"),
        FieldProblem("users[4].username", "'dora' is given twice (first at users[0])"),
        FieldProblem("users[1].memberships[0].context", "no context with key 'acme'"),
        FieldProblem(
            "users[3].memberships[1].context",
            "users of ENTERPRISE cannot belong to root contexts (allowed: account, customer)",
        ),
        FieldProblem("groups[0].rights.crm.crmExport", "module 'crm' has no right 'crmExport'"),
    ]
    assert row_counts(runtime) == before_counts
    assert export_text(runtime, with_secrets=True) == before_export


def test_problems_of_several_files_name_the_file(runtime: Runtime, tmp_path: Path) -> None:
    first = write(
        tmp_path, "contexts:\n  - {key: beta, type: account, name: Beta, parent: root}\n", "a.yaml"
    )
    second = write(
        tmp_path,
        "users:\n"
        "  - {username: hal, domain: CSP, memberships: [{context: beta}, {context: gamma}]}\n"
        "  - {username: ida, domian: CSP}\n",
        "b.yaml",
    )
    document = load_documents([first, second])

    with pytest.raises(InvalidInput) as raised, runtime.sessions() as session:
        Provisioner(runtime, session).apply(document)

    assert [str(problem) for problem in raised.value.problems] == [
        "b.yaml:users[1].domain: is required",
        "b.yaml:users[1].domian: unknown key",
        "b.yaml:users[0].memberships[1].context: no context with key 'gamma'",
    ]


def test_several_files_apply_as_one(runtime: Runtime, tmp_path: Path) -> None:
    first = write(
        tmp_path, "contexts:\n  - {key: beta, type: account, name: Beta, parent: root}\n", "a.yaml"
    )
    second = write(
        tmp_path,
        "users:\n  - {username: hal, domain: CSP, memberships: [{context: beta}]}\n",
        "b.yaml",
    )
    with runtime.sessions() as session:
        report = Provisioner(runtime, session).apply(load_documents([first, second]))

    assert report.lines() == ["created context beta", "created user hal"]


def test_yaml_syntax_errors_name_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "contexts: []\nusers: x: y\n")

    with pytest.raises(InvalidInput) as raised:
        load_documents([path])

    (problem,) = raised.value.problems
    assert str(problem).startswith(
        "line 2, column 9: not valid YAML: mapping values are not allowed"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "contexts:\n  - {key: x, type: customer, name: X, parent: root}\n",
            "contexts[0].parent: a customer context cannot be placed under a root context "
            "(allowed parents: account)",
        ),
        (
            "contexts:\n  - {key: y, type: account, name: Y, parent: x}\n"
            "  - {key: x, type: tenant, name: X, parent: root}\n",
            "contexts[0].parent: context 'x' must come before 'y'",
        ),
        (
            "contexts:\n  - {key: top, type: root, name: Top}\n"
            "  - {key: top2, type: root, name: T}\n",
            "contexts[1].type: there is one root context, given at contexts[0]",
        ),
        (
            "contexts:\n  - {key: root, type: tenant, name: Root, parent: root}\n",
            "contexts[0].type: 'root' is a root context; the type of a context cannot change",
        ),
        (
            "users:\n  - {username: admin, domain: CSP, status: draft}\n",
            "users[0].status: a user who is active cannot become draft",
        ),
        (
            "users:\n  - {username: ivy, domain: CSP, password: brief}\n",
            "users[0].password: must be at least 12 characters long",
        ),
        (
            "groups:\n  - {context: root, name: G, template: nothing}\n",
            "groups[0].template: no template with key 'nothing'",
        ),
        (
            "modules:\n  - {key: m, name: M, access_right: go, acls: [{key: go, type: text}]}\n",
            "modules[0].access_right: the access right must be a bool right of the module, "
            "and 'go' is not",
        ),
        (
            "clients:\n  - {client_id: c, name: C, public: true,"
            " client_secret: a long enough secret, redirect_uris: ['https://c.example/cb']}\n",
            "clients[0].client_secret: a public client has no secret",
        ),
        (
            "clients:\n  - {client_id: c, name: C}\n",
            "clients[0].redirect_uris: "
            "the authorization_code grant needs at least one redirect URI",
        ),
        (
            "clients:\n"
            "  - {client_id: c, name: C, module: nope, grant_types: [client_credentials]}\n",
            "clients[0].module: no module with key 'nope'",
        ),
        (
            "clients:\n  - {client_id: c, name: C, grant_types: [client_credentials],"
            " client_secret: 'thirty-one characters, not 32!!'}\n",
            "clients[0].client_secret: must be at least 32 characters long",
        ),
        (
            "clients:\n  - {client_id: c, name: C, grant_types: [client_credentials],"
            " client_secret_hash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA'}\n",
            "clients[0].client_secret_hash: must be a client secret hash made by Ostiary "
            "($sha256$...)",
        ),
        (
            "clients:\n  - {client_id: c, name: C, redirect_uris: ['https://*.c.example/cb']}\n",
            "clients[0].redirect_uris[0]: must not contain wildcards: redirect URIs are matched "
            "exactly",
        ),
        (
            "clients:\n  - {client_id: c, name: C, grant_types: [implicit],"
            " redirect_uris: ['https://c.example/cb']}\n",
            "clients[0].grant_types[0]: the implicit grant is not offered: RFC 9700 rules it out",
        ),
        (
            "clients:\n  - {client_id: c, name: C, grant_types: [client_credentials],"
            " token_endpoint_auth_method: private_key_jwt}\n",
            "clients[0].jwks: private_key_jwt needs the client's public keys (a JWK Set)",
        ),
        (
            "clients:\n  - {client_id: c, name: C, grant_types: [client_credentials],"
            " refresh_token_seconds: 3600, refresh_idle_seconds: 7200}\n",
            "clients[0].refresh_idle_seconds: must not exceed refresh_token_seconds (3600)",
        ),
        (
            "templates:\n  - {key: t, name: T, context_types: [account]}\n"
            "groups:\n  - {context: root, name: G, template: t}\n",
            "groups[0].template: template 't' is for account contexts, not root",
        ),
        (
            "domains:\n  - {name: SSO, kind: delegated, context_types: [account]}\n"
            "users:\n  - {username: lea, domain: SSO, password: a long enough password}\n",
            "users[0].password: users of the delegated domain SSO sign in at their identity "
            "provider and have no password here",
        ),
        (
            "users:\n  - {username: admin, domain: ENTERPRISE}\n",
            "users[0].domain: users of ENTERPRISE cannot belong to root contexts "
            "(allowed: account, customer), and the user is in 'root'",
        ),
        (
            "widgets: []\n",
            "widgets: unknown section "
            "(known: contexts, domains, modules, templates, groups, users, clients, identity_providers)",
        ),
    ],
)
def test_rules_are_checked_before_writing(
    runtime: Runtime, tmp_path: Path, text: str, expected: str
) -> None:
    before = row_counts(runtime)

    with pytest.raises(InvalidInput) as raised:
        apply_text(runtime, tmp_path, text)

    assert [str(problem) for problem in raised.value.problems] == [expected]
    assert row_counts(runtime) == before


def test_a_user_status_is_reached_through_the_lifecycle(runtime: Runtime, tmp_path: Path) -> None:
    apply_text(runtime, tmp_path, "users:\n  - {username: jo, domain: CSP}\n")

    report = apply_text(
        runtime, tmp_path, "users:\n  - {username: jo, domain: CSP, status: inactive}\n"
    )

    assert report.lines() == ["updated user jo"]
    with runtime.sessions() as session:
        assert _user(session, "jo").status == "inactive"
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("user.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions[-2:] == ["user.activated", "user.deactivated"]


PUBLIC_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "zqyPmKP68_gBqa18qSb1G9K35DKCKT6Q6jvyWcke7eA",
    "y": "lUmAkL7-9q-pAlniKH16LddYeCHn0SXaG4cIIK-YBlA",
}
TOKEN_SETTINGS = {
    "token_endpoint_auth_method": "private_key_jwt",
    "jwks": {"keys": [PUBLIC_KEY]},
    "access_token_seconds": 300,
    "refresh_token_seconds": 86400,
    "refresh_idle_seconds": 3600,
    "signing_alg": "RS256",
    "requires_context": False,
}


def test_client_token_settings_apply_and_export_when_not_default(
    runtime: Runtime, tmp_path: Path
) -> None:
    entry = {
        "client_id": "api",
        "name": "API",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": ["https://api.example/cb"],
        **TOKEN_SETTINGS,
    }
    report = apply_text(runtime, tmp_path, json.dumps({"clients": [entry]}))

    assert report.lines() == ["created client api"]
    with runtime.sessions() as session:
        api = ClientService(session, READER).get("api")
        assert {field: getattr(api, field) for field in TOKEN_SETTINGS} == TOKEN_SETTINGS
        assert api.secret_hash is None
    exported = yaml.safe_load(export_text(runtime))["clients"]
    assert exported == [entry]
    assert apply_text(runtime, tmp_path, json.dumps({"clients": [entry]})).unchanged


def test_a_client_given_a_hash_verifies_its_secret(runtime: Runtime, tmp_path: Path) -> None:
    text = (
        "clients:\n  - {client_id: m, name: M, grant_types: [client_credentials],"
        f" client_secret_hash: '{hash_secret(CLIENT_SECRET)}'}}\n"
    )
    assert apply_text(runtime, tmp_path, text).lines() == ["created client m"]
    assert apply_text(runtime, tmp_path, text).unchanged
    with runtime.sessions() as session:
        clients = ClientService(session, READER)
        assert clients.secret_matches(clients.get("m"), CLIENT_SECRET)
        assert not clients.secret_matches(clients.get("m"), CLIENT_SECRET + "!")


def test_a_client_turned_public_loses_its_secret_and_method(
    runtime: Runtime, tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FULL)

    report = apply_text(
        runtime,
        tmp_path,
        "clients:\n  - {client_id: ep-web, name: EP web, public: true}\n",
    )

    assert report.lines() == ["updated client ep-web"]
    with runtime.sessions() as session:
        web = ClientService(session, READER).get("ep-web")
        assert (web.public, web.token_endpoint_auth_method, web.secret_hash) == (True, "none", None)
    clients = yaml.safe_load(export_text(runtime))["clients"]
    assert "token_endpoint_auth_method" not in next(
        c for c in clients if c["client_id"] == "ep-web"
    )


def test_a_secret_for_a_client_with_keys_is_a_problem(runtime: Runtime, tmp_path: Path) -> None:
    entry = {
        "client_id": "k",
        "name": "K",
        "grant_types": ["client_credentials"],
        "client_secret": CLIENT_SECRET,
        **TOKEN_SETTINGS,
    }
    with pytest.raises(InvalidInput) as raised:
        apply_text(runtime, tmp_path, json.dumps({"clients": [entry]}))
    assert [str(p) for p in raised.value.problems] == [
        "clients[0].client_secret: a client authenticating with private_key_jwt has no secret"
    ]
