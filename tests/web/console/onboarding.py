"""Back-office staff for the console's world: a root administrator, and the settings under
which organizations register themselves below the root."""

from __future__ import annotations

import uuid
from pathlib import Path

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
