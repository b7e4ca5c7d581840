"""Back-office staff for the console's world: a CSP user in the root's Administrators group,
who holds every right of the ostiary module everywhere."""

from __future__ import annotations

import uuid
from pathlib import Path

from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from tests.web.console.support import PASSWORD

STAFF = f"""
users:
  - {{username: stella, domain: CSP, email: stella@csp.example, first_name: Stella,
     last_name: Staff, password: "{PASSWORD}", status: active,
     memberships: [{{context: root, groups: [Administrators]}}]}}
"""


def add_staff(runtime: Runtime, directory: Path) -> None:
    path = directory / f"staff-{uuid.uuid4().hex}.yaml"
    path.write_text(STAFF, encoding="utf-8")
    with runtime.sessions() as session:
        report = Provisioner(runtime, session).apply(load_documents([path]))
    assert not getattr(report, "problems", None), report
