"""Importing users from CSV: validation, idempotency, resume and the derived data."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.imports.problems import InvalidFile
from ostiary.imports.services import ImportOptions, ImportReport, UserImportService
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.api.test_groups import effective, groups_url, setup_ep
from tests.helpers import make_context, make_user

HASH = "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$8r5iSHv0G8Bq3mXkYx6vXw"
HEADER = "username,email,first_name,last_name,phone,language,domain,status,context,groups"


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    ids = setup_ep(client)
    make_context(client, ids["acme"], "customer", "Acme Shop", key="acme-shop", number="C-77")
    readers = client.post(
        groups_url(ids["acme"]),
        json={"name": "Readers", "rights": {"ep": {"epAccess": True, "sim.read": True}}},
    ).json()
    client.post(groups_url(ids["acme"]), json={"name": "Writers", "rights": {"ep": {}}})
    make_user(client, "taken", email="taken@example.com", context_ids=[ids["acme"]])
    return ids | {"readers": readers["id"]}


def run(runtime: Runtime, text: str, **options: Any) -> ImportReport:
    with runtime.sessions() as session:
        service = UserImportService(session, Actor(label="cli", via="cli"))
        opts = ImportOptions(**options)
        return service.run(service.validate(text.encode("utf-8"), opts), opts)


def problems_of(runtime: Runtime, text: str) -> list[str]:
    with pytest.raises(InvalidFile) as caught:
        run(runtime, text)
    return [str(p) for p in caught.value.problems]


def count(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def rows(*lines: str) -> str:
    return "\n".join((HEADER, *lines)) + "\n"


GOOD = rows(
    "ann,ann@example.com,Ann,Berger,+41791234567,de-CH,ENTERPRISE,active,acme,Readers",
    'ben,ben@example.com,Ben,"Meier, Jr.",,en,,draft,C-77,',
)


def test_imports_users_with_context_groups_and_derived_data(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    report = run(runtime, GOOD)
    assert (report.counts.created, report.counts.updated, report.counts.unchanged) == (2, 0, 0)
    assert report.finished

    found = client.get("/api/v1/users", params={"name": "berg"}).json()["items"]
    assert [u["username"] for u in found] == ["ann"]
    ann = found[0]
    assert ann["status"] == "active" and ann["phone"] == "+41791234567"
    assert effective(client, ann["id"], world["acme"])["rights"]["sim.read"] is True
    ben = client.get("/api/v1/users", params={"q": "meier, jr."}).json()["items"][0]
    contexts = client.get(f"/api/v1/users/{ben['id']}/contexts").json()
    assert [c["context_key"] for c in contexts] == ["acme-shop"]  # by its external number

    events = client.get("/api/v1/audit-events", params={"target": ann["id"]}).json()["items"]
    assert sorted(e["action"] for e in events) == [
        "group.members_changed",
        "membership.added",
        "user.created",
    ]


def test_rerun_changes_nothing_and_records_nothing(runtime: Runtime, world: dict[str, Any]) -> None:
    run(runtime, GOOD)
    events = count(runtime, AuditEvent)
    again = run(runtime, GOOD)
    assert (again.counts.created, again.counts.updated, again.counts.unchanged) == (0, 0, 2)
    assert count(runtime, AuditEvent) == events
    assert count(runtime, User, User.username.in_(["ann", "ben"])) == 2


def test_rerun_updates_changed_fields_and_groups(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    run(runtime, GOOD)
    changed = rows(
        "ann,ann@example.com,Ann,Keller,+41791234567,de-CH,ENTERPRISE,inactive,acme,Writers",
        'ben,ben@example.com,Ben,"Meier, Jr.",,en,,draft,C-77,',
    )
    report = run(runtime, changed)
    assert (report.counts.updated, report.counts.unchanged) == (1, 1)
    ann = client.get("/api/v1/users", params={"username": "ann"}).json()["items"][0]
    assert ann["last_name"] == "Keller" and ann["status"] == "inactive"
    assert client.get("/api/v1/users", params={"name": "berger"}).json()["items"] == []
    assert effective(client, ann["id"], world["acme"])["rights"]["sim.read"] is False
    actions = [
        e["action"]
        for e in client.get("/api/v1/audit-events", params={"target": ann["id"]}).json()["items"]
    ]
    assert {"user.updated", "user.deactivated"} <= set(actions)
    assert actions.count("group.members_changed") == 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x,bad-mail,,,,,,,acme,", "line 3, email: "),
        ("x,,,,+4112,,,,acme,", "line 3, phone: "),
        ("x,,,,0446681800,,,,acme,", "line 3, phone: must be an international number"),
        ("x,,,,,,,,nowhere,", "line 3, context: no context with key or number 'nowhere'"),
        ("x,,,,,,,,acme,Nobody", "line 3, groups: no group named 'Nobody' in context 'acme'"),
        ("x,,,,,,,,acme-shop,Readers", "line 3, groups: no group named 'Readers'"),
        ("x,,,,,,NOPE,,acme,", "line 3, domain: no user domain named 'NOPE'"),
        ("x,,,,,,,,root,", "line 3, context: users of ENTERPRISE cannot belong to root"),
        ("x,,,,,,,sleeping,acme,", "line 3, status: unknown status 'sleeping'"),
        ("x,,,,,,,deleted,acme,", "line 3, status: deleting is not done by import"),
        ("x,,,,,xx_1,,,acme,", "line 3, language: "),
        ("Not Valid!,,,,,,,,acme,", "line 3, username: must be 1 to 150 characters"),
        ("deleted-x,,,,,,,,acme,", "line 3, username: must not start with 'deleted-'"),
        (",,,,,,,,acme,", "line 3, username: is empty"),
        ("x,,,,,,,,,", "line 3, context: is empty"),
        ("x,taken@EXAMPLE.com,,,,,,,acme,", "line 3, email: the e-mail address is already taken"),
        (
            "ann,other@example.com,,,,,,,acme,",
            "line 3, username: username 'ann' is already on line 2",
        ),
        ("y,ANN@example.com,,,,,,,acme,", "line 3, email: the e-mail address is already on line 2"),
        ("x,,,,,,,,acme", "line 3: has 9 fields, the header 10"),
    ],
)
def test_every_bad_row_is_named_by_line_and_column_and_nothing_is_written(
    runtime: Runtime, world: dict[str, Any], line: str, expected: str
) -> None:
    users = count(runtime, User)
    events = count(runtime, AuditEvent)
    text = rows("ann,ann@example.com,Ann,,,,,,acme,", line)
    found = problems_of(runtime, text)
    assert any(p.startswith(expected) for p in found), found
    assert (count(runtime, User), count(runtime, AuditEvent)) == (users, events)


def test_header_problems(runtime: Runtime, world: dict[str, Any]) -> None:
    assert problems_of(runtime, "username,colour\nx,red\n") == [
        "line 1, colour: unknown column (known: username, email, first_name, last_name, phone, "
        "language, domain, status, context, groups, password_hash, invite, email_verified)",
        "line 1, context: the header lacks this required column",
    ]
    assert problems_of(runtime, "") == ["line 1: the file is empty; it needs a header row"]


def test_not_utf8_is_refused(runtime: Runtime, world: dict[str, Any]) -> None:
    with runtime.sessions() as session, pytest.raises(InvalidFile) as caught:
        UserImportService(session, Actor.system()).validate(
            "username,context\nmüller,acme\n".encode("latin-1"), ImportOptions()
        )
    assert str(caught.value.problems[0]) == "line 2: the file is not UTF-8"


def test_bom_semicolons_quotes_and_line_numbers_of_multiline_fields(
    runtime: Runtime, world: dict[str, Any]
) -> None:
    text = '\ufeffusername;last_name;context\n"q";"two\nlines";acme\nr;;nowhere\n'
    assert problems_of(runtime, text) == [
        "line 4, context: no context with key or number 'nowhere'"
    ]
    report = run(runtime, text.replace("nowhere", "acme"))
    assert report.counts.created == 2


def test_password_hashes_only_never_passwords(runtime: Runtime, world: dict[str, Any]) -> None:
    header = "username,context,password_hash\n"
    assert problems_of(runtime, header + "x,acme,secret password 1\n") == [
        "line 2, password_hash: must be an argon2id hash ($argon2id$...), never a password"
    ]
    assert run(runtime, header + f'x,acme,"{HASH}"\n').counts.created == 1  # quoted: it has commas
    with runtime.sessions() as session:
        assert session.scalars(select(User).where(User.username == "x")).one().password_hash == HASH


def test_skip_invalid_imports_the_good_rows(runtime: Runtime, world: dict[str, Any]) -> None:
    text = rows("ann,ann@example.com,Ann,,,,,,acme,", "x,bad-mail,,,,,,,acme,", "z,,,,,,,,acme,")
    report = run(runtime, text, skip_invalid=True)
    assert (report.counts.created, report.invalid) == (2, 1)
    assert [p.line for p in report.problems] == [3]


def test_dry_run_counts_and_writes_nothing(runtime: Runtime, world: dict[str, Any]) -> None:
    users = count(runtime, User)
    report = run(runtime, GOOD, dry_run=True)
    assert (report.dry_run, report.counts.created) == (True, 2)
    assert count(runtime, User) == users


def test_an_interrupted_import_continues_where_it_stopped(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    text = rows(
        *(f"u{i:03},u{i}@example.com,U,Number{i},,,,active,acme,Readers" for i in range(25))
    )
    before = count(runtime, AuditEvent, AuditEvent.action == "user.created")
    first = run(runtime, text, chunk_rows=10, stop_after_chunks=2)
    assert (first.finished, first.rows_done, first.counts.created) == (False, 20, 20)
    assert count(runtime, User, User.username.like("u%")) == 20

    second = run(runtime, text, chunk_rows=10)
    assert second.finished and second.resumed_from == 20
    assert (second.counts.created, second.counts.unchanged) == (25, 0)
    assert count(runtime, User, User.username.like("u%")) == 25
    created = count(runtime, AuditEvent, AuditEvent.action == "user.created")
    assert created == before + 25
    one = client.get("/api/v1/users", params={"username": "u024"}).json()["items"][0]
    assert effective(client, one["id"], world["acme"])["rights"]["sim.read"] is True


def validated_then(runtime: Runtime, text: str, change: Any) -> ImportReport:
    """Validate ``text``, let ``change`` happen, then write: as a concurrent change would."""
    with runtime.sessions() as session:
        service = UserImportService(session, Actor(label="cli", via="cli"))
        options = ImportOptions()
        validated = service.validate(text.encode("utf-8"), options)
        change()
        return service.run(validated, options)


def test_an_address_taken_between_validation_and_writing_fails_the_job(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    text = rows("newbie,late@example.com,New,Bie,,,,active,acme,")
    with pytest.raises(InvalidFile) as caught:
        validated_then(
            runtime,
            text,
            lambda: make_user(
                client, "quick", email="late@example.com", context_ids=[world["acme"]]
            ),
        )
    assert [str(p) for p in caught.value.problems] == [
        "line 2, email: the e-mail address is already taken by another user"
    ]
    assert count(runtime, User, User.username == "newbie") == 0


def test_a_user_changed_between_validation_and_writing_is_planned_again(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    run(runtime, GOOD)
    ann = client.get("/api/v1/users", params={"username": "ann"}).json()["items"][0]
    changed = GOOD.replace("Ann,Berger", "Ann,Keller")

    def rename() -> None:
        response = client.patch(f"/api/v1/users/{ann['id']}", json={"last_name": "Meanwhile"})
        assert response.status_code == 200, response.text

    report = validated_then(runtime, changed, rename)
    assert (report.counts.updated, report.counts.unchanged) == (1, 1)
    events = client.get(
        "/api/v1/audit-events", params={"target": ann["id"], "action": "user.updated"}
    ).json()["items"]
    # The import's event records what it replaced: the change made meanwhile, not the
    # name validation saw.
    assert events[0]["changes"]["last_name"] == ["Meanwhile", "Keller"]


def test_a_username_created_between_validation_and_writing_is_updated_not_duplicated(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    report = validated_then(
        runtime, GOOD, lambda: make_user(client, "ben", email=None, context_ids=[world["acme"]])
    )
    assert (report.counts.created, report.counts.updated) == (1, 1)
    assert count(runtime, User, User.username == "ben") == 1
    ben = client.get("/api/v1/users", params={"username": "ben"}).json()["items"][0]
    assert ben["email"] == "ben@example.com" and ben["last_name"] == "Meier, Jr."


def test_group_members_changed_between_validation_and_writing_are_seen(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    run(runtime, GOOD)
    ann = client.get("/api/v1/users", params={"username": "ann"}).json()["items"][0]
    moved = GOOD.replace("acme,Readers", "acme,Writers")

    def move() -> None:
        # Someone else moves her meanwhile, exactly as the file says.
        assert run(runtime, moved).counts.updated == 1

    report = validated_then(runtime, moved, move)
    assert (report.counts.updated, report.counts.unchanged) == (0, 2)
    changes = client.get(
        "/api/v1/audit-events", params={"target": ann["id"], "action": "group.members_changed"}
    ).json()["items"]
    assert len(changes) == 2  # joining Readers, then the one move to Writers


def _verified(client: TestClient, username: str) -> bool:
    [user] = client.get("/api/v1/users", params={"username": username}).json()["items"]
    return bool(user["email_verified"])


def test_email_verified_is_vouched_for_as_through_the_api(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    header = "username,email,context,email_verified"
    text = f"{header}\nann,ann@example.com,acme,true\nben,ben@example.com,acme,\n"
    assert run(runtime, text).counts.created == 2
    assert (_verified(client, "ann"), _verified(client, "ben")) == (True, False)
    [created] = client.get(
        "/api/v1/audit-events", params={"action": "user.created", "target": _id(client, "ann")}
    ).json()["items"]
    assert created["changes"]["email_verified"] is True

    # Without the column, existing users keep what they have.
    again = run(runtime, "username,email,context\nann,ann@example.com,acme\n")
    assert again.counts.unchanged == 1 and _verified(client, "ann")
    unverified = run(runtime, f"{header}\nann,ann@example.com,acme,false\n")
    assert unverified.counts.updated == 1 and not _verified(client, "ann")
    events = client.get(
        "/api/v1/audit-events", params={"action": "user.updated", "target": _id(client, "ann")}
    ).json()["items"]
    assert events[0]["changes"] == {"email_verified": [True, False]}
    # A new address the file says nothing of is not verified, as through the API.
    run(runtime, f"{header}\nann,ann@example.com,acme,yes\n")
    run(runtime, "username,email,context\nann,ann@other.example,acme\n")
    assert not _verified(client, "ann")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("cy,cy@example.com,acme,maybe", "line 3, email_verified: must be true or false"),
        ("cy,,acme,true", "line 3, email_verified: only an e-mail address can be verified"),
    ],
)
def test_a_bad_email_verified_is_named_by_its_line_and_nothing_is_imported(
    runtime: Runtime, world: dict[str, Any], line: str, expected: str
) -> None:
    users = count(runtime, User)
    text = f"username,email,context,email_verified\nann,ann@example.com,acme,true\n{line}\n"
    found = problems_of(runtime, text)
    assert any(p.startswith(expected) for p in found), found
    assert count(runtime, User) == users


def _id(client: TestClient, username: str) -> str:
    [user] = client.get("/api/v1/users", params={"username": username}).json()["items"]
    return str(user["id"])
