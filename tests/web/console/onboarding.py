"""Back-office staff for the console's world: a root administrator, and the settings under
which organizations register themselves below the root."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select

from ostiary.access.catalogue import API_IP_ALLOW, OSTIARY_MODULE
from ostiary.access.models import Acl, Module
from ostiary.access.templates import TemplateService
from ostiary.audit.actor import Actor
from ostiary.invitations.services import ADMIN_TEMPLATE
from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from tests.web.console.support import PASSWORD

STAFF = f"""
groups:
  - {{context: root, name: Back office, template: root-administrator,
     rights: {{ostiary: {{"API IP Allow": "0.0.0.0/0"}}}}}}
users:
  - {{username: stella, domain: CSP, email: stella@back-office.example, first_name: Stella,
     last_name: Staff, password: "{PASSWORD}", status: active,
     memberships: [{{context: root, groups: [Back office]}}]}}
"""
# Organizations register below the root.
REGISTRATION = {"registration_parent": "root", "two_factor_resend_seconds": 0}


def make_staff(runtime: Runtime, directory: Path) -> None:
    """Stella, a root administrator (every right of the ostiary module at the root)."""
    path = directory / f"staff-{uuid.uuid4().hex}.yaml"
    path.write_text(STAFF, encoding="utf-8")
    with runtime.sessions() as session:
        report = Provisioner(runtime, session).apply(load_documents([path]))
    assert not getattr(report, "problems", None), report


def contact_persons_administer_from_anywhere(runtime: Runtime) -> None:
    """As docs/onboarding.md tells operators: the ``account-administrator`` template gets an
    ``API IP Allow``, so that the administrators of an organization approved from now on may
    use their rights in the console and the admin API from any address."""
    with runtime.sessions() as session:
        templates = TemplateService(session, Actor.system())
        template = templates.get(ADMIN_TEMPLATE)
        allow = session.scalars(
            select(Acl.id)
            .join(Module, Module.id == Acl.module_id)
            .where(Module.key == OSTIARY_MODULE, Acl.key == API_IP_ALLOW)
        ).one()
        rights = templates.values(template) | {allow: "0.0.0.0/0"}
        templates.put(
            ADMIN_TEMPLATE,
            name=template.name,
            context_types=list(template.context_types),
            rights=rights,
        )
        session.commit()
