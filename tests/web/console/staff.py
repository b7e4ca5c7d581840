"""Back-office staff for the console's tests: the world of ``support``, and a CSP user in the
root's Administrators group (every right of the ``ostiary`` module there)."""

from __future__ import annotations

import uuid
from pathlib import Path

from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from tests.web.console.support import PASSWORD, make_world

STAFF = f"""
users:
  - {{username: stella, domain: CSP, email: stella@ostiary.example, first_name: Stella,
     last_name: Staff, password: "{PASSWORD}", status: active,
     memberships: [{{context: root, groups: [Administrators]}}]}}
"""


def make_staff_world(runtime: Runtime, directory: Path) -> None:
    make_world(runtime, directory)
    add_staff(runtime, directory)


def add_staff(runtime: Runtime, directory: Path) -> None:
    path = directory / f"staff-{uuid.uuid4().hex}.yaml"
    path.write_text(STAFF, encoding="utf-8")
    with runtime.sessions() as session:
        report = Provisioner(runtime, session).apply(load_documents([path]))
    assert not getattr(report, "problems", None), report
