"""Helpers for the provisioning tests: applying and exporting text, and counting rows."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select, update

from ostiary.bootstrap import ensure_defaults
from ostiary.contexts.models import Context
from ostiary.db.models import metadata
from ostiary.provisioning.apply import ApplyReport, Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.provisioning.export import export_document
from ostiary.runtime import Runtime

ALICE_PASSWORD = "correct staple battery 42"
CLIENT_SECRET = "the portal's long secret, 32 characters or more"

# Every section, with references to the file's own entries and to the bootstrap objects.
FULL = f"""
contexts:
  - {{key: acme-group, type: tenant, name: Acme Group, parent: root}}
  - key: acme
    type: account
    name: Acme Ltd
    parent: acme-group
    number: 10042
    email_domains: [Acme.example]
  - {{key: acme-shop, type: customer, name: Acme Shop, parent: acme, status: pending}}
  - {{key: acme-sub, type: account, name: Acme Subsidiary, parent: acme}}
domains:
  - {{name: PARTNER, kind: local, context_types: [customer, account]}}
modules:
  - key: ep
    name: Enterprise Portal
    context_types: [account, customer]
    access_right: epModuleAccess
    acls:
      - {{key: epModuleAccess, category: Module}}
      - {{key: epInvoices, category: Billing, description: See invoices}}
      - {{key: API IP Allow, category: API, type: text}}
templates:
  - key: ep-admin
    name: EP administrator
    context_types: [account]
    rights: {{ep: {{epModuleAccess: true, epInvoices: true}}}}
groups:
  - context: acme
    name: Admins
    role: admin
    template: ep-admin
    rights: {{ep: {{epInvoices: false, API IP Allow: 10.0.0.0/8}}}}
  - {{context: acme, name: Readers, rights: {{ep: {{epModuleAccess: true}}}}}}
  - {{context: root, name: Auditors, rights: {{ostiary: {{access: true, audit.read: true}}}}}}
users:
  - username: alice
    domain: ENTERPRISE
    email: Alice@Acme.example
    phone: "+41446681800"
    first_name: Alice
    last_name: Smith
    password: {ALICE_PASSWORD}
    status: active
    language: de-CH
    two_factor: email
    memberships:
      - {{context: acme, groups: [Admins, Readers]}}
      - {{context: acme-shop}}
  - username: bob
    domain: PARTNER
    status: inactive
    memberships: [{{context: acme-sub}}]
  - username: carol
    domain: CSP
    memberships: [{{context: root, groups: [Auditors]}}]
clients:
  - client_id: ep-web
    client_secret: {CLIENT_SECRET}
    name: EP web
    module: ep
    redirect_uris: [https://ep.example/callback]
    post_logout_redirect_uris: [https://ep.example/]
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, email]
  - {{client_id: ep-batch, name: EP batch, grant_types: [client_credentials]}}
"""

FULL_CREATED = [
    "created context acme-group",
    "created context acme",
    "created context acme-shop",
    "created context acme-sub",
    "created domain PARTNER",
    "created module ep",
    "created template ep-admin",
    "created group Admins in acme",
    "created group Readers in acme",
    "created group Auditors in root",
    "created user alice",
    "created user bob",
    "created user carol",
    "created client ep-web",
    "created client ep-batch",
]

# Five problems: a bad reference, an unknown right of a module given in the same file, a bad
# phone number, an ENTERPRISE user in the root context and a username given twice.
BAD = """
contexts:
  - {key: beta, type: account, name: Beta, parent: root}
modules:
  - key: crm
    name: CRM
    acls: [{key: crmAccess}]
groups:
  - {context: beta, name: Staff, rights: {crm: {crmAccess: true, crmExport: true}}}
users:
  - {username: dora, domain: CSP, memberships: [{context: beta, groups: [Staff]}]}
  - {username: erin, domain: CSP, memberships: [{context: acme}]}
  - {username: fred, domain: ENTERPRISE, phone: "+41 12"}
  - {username: gina, domain: ENTERPRISE, memberships: [{context: beta}, {context: root}]}
  - {username: dora, domain: CSP}
"""


def write(directory: Path, text: str, name: str | None = None) -> Path:
    path = directory / (name or f"provisioning-{uuid.uuid4().hex}.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def apply_text(runtime: Runtime, directory: Path, text: str) -> ApplyReport:
    document = load_documents([write(directory, text)])
    with runtime.sessions() as session:
        return Provisioner(runtime, session).apply(document)


def export_text(runtime: Runtime, *, with_secrets: bool = False) -> str:
    with runtime.sessions() as session:
        return export_document(session, with_secrets=with_secrets)


def row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in metadata.sorted_tables
        }


def start_afresh(runtime: Runtime, *, empty: bool = True) -> None:
    """Bring the database to the state of a first start: no rows, then the defaults.

    Deleting is much faster than TRUNCATE on PostgreSQL for a few rows, which the property
    test, starting afresh twice per example, notices.
    """
    if empty:
        with runtime.engine.begin() as connection:
            connection.execute(update(Context).values(parent_id=None))
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
    with runtime.sessions() as session:
        ensure_defaults(runtime, session)
