"""Brandings in the provisioning file: on contexts and clients, with the client's context;
export and apply round trip, a second apply changes nothing, bad values are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ostiary.audit.actor import Actor
from ostiary.branding.resolution import BrandingResolver
from ostiary.clients.services import ClientService
from ostiary.errors import InvalidInput
from ostiary.runtime import Runtime
from tests.provisioning.support import apply_text, export_text

FILE = """
contexts:
  - key: smartplan
    type: tenant
    name: SmartPlan
    parent: root
    branding:
      display_name: SmartPlan
      primary_color: "#1A5FB4"
      support_url: https://support.smartplan.example
      texts: {en: {login_title: Sign in to SmartPlan}, de: {login_title: Bei SmartPlan anmelden}}
  - {key: acme, type: account, name: Acme, parent: smartplan, email_domains: [acme.example]}
clients:
  - client_id: planner
    name: Planner
    public: true
    redirect_uris: [https://planner.example/cb]
    grant_types: [authorization_code]
    context: acme
    branding: {display_name: Acme Planner, accent_color: "#0b5394"}
"""


def test_brandings_apply_export_and_apply_again_unchanged(
    runtime: Runtime, fresh_runtime: Callable[[], Runtime], tmp_path: Path
) -> None:
    report = apply_text(runtime, tmp_path, FILE)
    assert "created context smartplan" in report.lines()
    with runtime.sessions() as session:
        resolver = BrandingResolver(session)
        client = ClientService(session, Actor("test", "cli")).get("planner")
        assert resolver.for_client(client).display_name == "Acme Planner"  # type: ignore[union-attr]
        assert resolver.for_email("jo@acme.example").primary_color == "#1a5fb4"  # type: ignore[union-attr]
    assert apply_text(runtime, tmp_path, FILE).unchanged
    exported = export_text(runtime)
    sections = yaml.safe_load(exported)
    smartplan = next(c for c in sections["contexts"] if c["key"] == "smartplan")
    assert smartplan["branding"]["texts"]["de"] == {"login_title": "Bei SmartPlan anmelden"}
    [planner] = sections["clients"]
    assert planner["context"] == "acme" and planner["branding"]["display_name"] == "Acme Planner"
    assert "branding" not in next(c for c in sections["contexts"] if c["key"] == "acme")
    assert apply_text(runtime, tmp_path, exported).unchanged
    target = fresh_runtime()
    apply_text(target, tmp_path, exported)
    assert export_text(target) == exported


def test_left_out_keeps_the_branding_and_null_removes_it(runtime: Runtime, tmp_path: Path) -> None:
    apply_text(runtime, tmp_path, FILE)
    kept = FILE.replace('    branding: {display_name: Acme Planner, accent_color: "#0b5394"}\n', "")
    assert apply_text(runtime, tmp_path, kept).unchanged
    removed = apply_text(
        runtime,
        tmp_path,
        kept.replace("    context: acme\n", "    context: acme\n    branding: null\n"),
    )
    assert removed.lines() == ["updated client planner"]
    with runtime.sessions() as session:
        client = ClientService(session, Actor("test", "cli")).get("planner")
        assert BrandingResolver(session).for_client(client).display_name == "SmartPlan"  # type: ignore[union-attr]


def test_bad_branding_values_and_unknown_contexts_are_refused(
    runtime: Runtime, tmp_path: Path
) -> None:
    bad = FILE.replace('primary_color: "#1A5FB4"', "primary_color: blue").replace(
        "context: acme", "context: nowhere"
    )
    with pytest.raises(InvalidInput) as refused:
        apply_text(runtime, tmp_path, bad)
    fields = {problem.field for problem in refused.value.problems}
    assert any(f.endswith("branding.primary_color") for f in fields), fields
    assert any(f.endswith("context") for f in fields), fields
    with runtime.sessions() as session:
        assert BrandingResolver(session).instance() is None
        assert ClientService(session, Actor("test", "cli")).find("planner") is None
