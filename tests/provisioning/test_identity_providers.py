"""The provisioning file's ``identity_providers``: created, kept, changed, exported without
the client secret, and refused with every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from ostiary.errors import FieldProblem, InvalidInput
from ostiary.federation.models import IdentityProvider
from ostiary.federation.services import ClientSecrets
from ostiary.runtime import Runtime
from tests.provisioning.support import apply_text, export_text, row_counts

FILE = """
domains:
  - {name: CORP, kind: delegated, context_types: [account]}
identity_providers:
  - key: corp
    name: Corp SSO
    issuer: https://sso.corp.example
    client_id: ostiary
    client_secret: the upstream's secret
    domain: CORP
    email_domains: [Corp.example]
    roles_claim: groups
"""


def _stored(runtime: Runtime) -> tuple[IdentityProvider, str]:
    with runtime.sessions() as session:
        provider = session.scalars(select(IdentityProvider)).one()
        return provider, ClientSecrets(runtime.settings).open(provider)


def test_a_provider_is_created_then_left_alone_then_changed(
    runtime: Runtime, tmp_path: Path
) -> None:
    report = apply_text(runtime, tmp_path, FILE)
    assert "created identity_provider corp" in report.lines()
    provider, secret = _stored(runtime)
    assert secret == "the upstream's secret" and provider.email_domains == ["corp.example"]
    assert provider.scopes == ["openid", "email", "profile"] and provider.roles_claim == "groups"

    assert apply_text(runtime, tmp_path, FILE).unchanged
    changed = FILE.replace("    roles_claim: groups\n", "    enabled: false\n").replace(
        "    client_secret: the upstream's secret\n", ""
    )
    assert "updated identity_provider corp" in apply_text(runtime, tmp_path, changed).lines()
    provider, secret = _stored(runtime)
    assert provider.enabled is False and provider.roles_claim == "groups"
    assert secret == "the upstream's secret"


def test_the_export_leaves_the_secret_out_and_applies_back_unchanged(
    runtime: Runtime, tmp_path: Path
) -> None:
    apply_text(runtime, tmp_path, FILE)
    exported = export_text(runtime, with_secrets=True)
    assert "upstream's secret" not in exported and "v1." not in exported
    entry = yaml.safe_load(exported)["identity_providers"][0]
    assert entry["issuer"] == "https://sso.corp.example" and entry["domain"] == "CORP"
    assert apply_text(runtime, tmp_path, exported).unchanged


def test_problems_are_named_and_nothing_is_written(runtime: Runtime, tmp_path: Path) -> None:
    before = row_counts(runtime)
    bad = """
identity_providers:
  - {key: plain, name: Plain, issuer: http://sso.corp.example, client_id: o, domain: CORP,
     client_secret: s}
  - {key: corp, name: Corp, issuer: https://sso.corp.example, client_id: o, domain: CSP,
     client_secret: s}
  - {key: other, name: Other, issuer: https://other.example, client_id: o, domain: NOPE}
"""
    with pytest.raises(InvalidInput) as raised:
        apply_text(runtime, tmp_path, bad)
    assert raised.value.problems == [
        FieldProblem(
            "identity_providers[0].issuer",
            "must be an https URL (http only for localhost)",
        ),
        FieldProblem(
            "identity_providers[1].domain",
            "user domain 'CSP' is local: a provider's users belong to a delegated domain",
        ),
        FieldProblem("identity_providers[2].client_secret", "is required to add a provider"),
        FieldProblem("identity_providers[2].domain", "no user domain named 'NOPE'"),
    ]
    assert row_counts(runtime) == before
