"""Property: any valid provisioning file applies, is idempotent, and its export round-trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostiary.access.catalogue import OSTIARY
from ostiary.access.models import AclType
from ostiary.contexts.models import ALLOWED_PARENTS, ContextStatus, ContextType
from ostiary.runtime import Runtime
from tests.provisioning.support import apply_text, export_text, row_counts, start_afresh

BOOL_RIGHTS = [acl.key for acl in OSTIARY.acls if acl.type == AclType.BOOL]
CHILD_TYPES = [ContextType.TENANT, ContextType.ACCOUNT, ContextType.CUSTOMER]
DOMAIN_TYPES = {"CSP": [str(t) for t in ContextType], "ENTERPRISE": ["account", "customer"]}

names = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters=" -'"),
    min_size=1,
    max_size=30,
).filter(lambda name: name.strip() == name)
rights = st.dictionaries(st.sampled_from(BOOL_RIGHTS), st.booleans(), max_size=4)


def _children_of(parent_type: str) -> list[ContextType]:
    return [t for t in CHILD_TYPES if parent_type in ALLOWED_PARENTS[t]]


@st.composite
def contexts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A valid tree under the root, each parent before its children."""
    placed: list[tuple[str, str]] = [("root", "root")]
    entries: list[dict[str, Any]] = []
    for index in range(draw(st.integers(0, 5))):
        parents = [(key, kind) for key, kind in placed if _children_of(kind)]
        parent, parent_type = draw(st.sampled_from(parents))
        kind = draw(st.sampled_from(_children_of(parent_type)))
        entry = {"key": f"c{index}", "type": str(kind), "name": draw(names), "parent": parent}
        if draw(st.booleans()):
            entry["number"] = f"N-{index}"
        entry["status"] = str(draw(st.sampled_from(ContextStatus)))
        entries.append(entry)
        placed.append((entry["key"], entry["type"]))
    return entries


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    context_entries = draw(contexts())
    keys = {"root": "root"} | {c["key"]: c["type"] for c in context_entries}
    template = {"key": "tpl", "name": draw(names), "rights": {"ostiary": draw(rights)}}
    groups: list[dict[str, Any]] = []
    for key in keys:
        for name in draw(st.lists(st.sampled_from(["Staff", "Viewers"]), unique=True)):
            groups.append({"context": key, "name": name, **draw(_group_fields())})
    users = [draw(_user(index, keys, groups)) for index in range(draw(st.integers(0, 4)))]
    return {"contexts": context_entries, "templates": [template], "groups": groups, "users": users}


@st.composite
def _group_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {"rights": {"ostiary": draw(rights)}}
    if draw(st.booleans()):
        fields["template"] = "tpl"
    if draw(st.booleans()):
        fields["role"] = draw(names)
    return fields


@st.composite
def _user(
    draw: st.DrawFn, index: int, keys: dict[str, str], groups: list[dict[str, Any]]
) -> dict[str, Any]:
    domain = draw(st.sampled_from(sorted(DOMAIN_TYPES)))
    allowed = [key for key, kind in keys.items() if kind in DOMAIN_TYPES[domain]]
    user: dict[str, Any] = {
        "username": f"u{index}",
        "domain": domain,
        "status": draw(st.sampled_from(["draft", "active", "inactive"])),
        "two_factor": draw(st.sampled_from(["inherit", "disabled", "sms", "email", "sms+email"])),
    }
    for field in ("first_name", "last_name"):
        if draw(st.booleans()):
            user[field] = draw(names)
    if draw(st.booleans()):
        user["email"] = f"u{index}@example.com"
    if draw(st.booleans()):
        user["language"] = draw(st.sampled_from(["en", "de-CH", "fr"]))
    chosen = draw(st.lists(st.sampled_from(allowed), unique=True, max_size=3)) if allowed else []
    user["memberships"] = [
        {"context": key, "groups": draw(_groups_in(key, groups))} for key in chosen
    ]
    return user


def _groups_in(key: str, groups: list[dict[str, Any]]) -> st.SearchStrategy[list[str]]:
    options = [group["name"] for group in groups if group["context"] == key]
    return st.lists(st.sampled_from(options), unique=True) if options else st.just([])


def test_any_valid_document_applies_idempotently_and_round_trips(
    runtime: Runtime, tmp_path: Path
) -> None:
    # One database, started afresh for the document and again for its export: new engines for
    # each example would double the time.
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(document=documents())
    def check(document: dict[str, Any]) -> None:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        start_afresh(runtime)
        first = apply_text(runtime, tmp_path, text)
        assert all(outcome.result == "created" for outcome in first.outcomes)
        assert apply_text(runtime, tmp_path, text).unchanged

        exported = export_text(runtime)
        before = row_counts(runtime)
        assert apply_text(runtime, tmp_path, exported).unchanged
        assert row_counts(runtime) == before

        start_afresh(runtime)
        apply_text(runtime, tmp_path, exported)
        assert export_text(runtime) == exported

    check()
