"""The profile service: who may change what, what a verified change records, and what is left
of a waiting change when the user is deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.authn.factors.codes import Verdict
from ostiary.authn.models import OneTimeToken
from ostiary.contexts.models import ContextType
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden, RuleViolation
from ostiary.messages.models import Message
from ostiary.runtime import Runtime
from ostiary.users.domains import DomainService
from ostiary.users.lifecycle import LifecycleAction
from ostiary.users.models import ContactField, ContactVerification, User, UserStatus
from ostiary.users.profile import ProfileService, VerificationFailed
from ostiary.users.schemas import DomainCreate, ProfileUpdate, UserCreate
from ostiary.users.service_accounts import ServiceAccounts
from ostiary.users.services import UserService

ACTOR = Actor("tester", "cli")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False, "two_factor_resend_seconds": 0}


def make(
    session: OstiarySession, runtime: Runtime, username: str, domain: str = "ENTERPRISE"
) -> User:
    return UserService(session, ACTOR, runtime.passwords).create(
        UserCreate(
            username=username,
            domain=domain,
            status=UserStatus.ACTIVE,
            email=f"{username}@old.example",
            first_name="First",
        )
    )


def profiles(session: OstiarySession, runtime: Runtime, user: User) -> ProfileService:
    return ProfileService(session, runtime, Actor(user.username, "api", user.id))


def code_of(session: OstiarySession, address: str) -> str:
    import re

    message = session.scalars(
        select(Message).where(Message.recipient == address, Message.purpose == "email-verification")
    ).one()
    return re.search(r"\b(\d{6})\b", message.text or "").group(1)  # type: ignore[union-attr]


def test_delegated_users_keep_their_data_at_their_identity_provider(
    session: OstiarySession, runtime: Runtime
) -> None:
    DomainService(session, ACTOR).create(
        DomainCreate(name="CORP", kind="delegated", context_types=[ContextType.ACCOUNT])  # type: ignore[arg-type]
    )
    user = make(session, runtime, "dora", domain="CORP")
    service = profiles(session, runtime, user)
    assert service.profile(user).managed_externally is True
    with pytest.raises(RuleViolation) as names:
        service.update(user, ProfileUpdate(first_name="Other"))
    assert names.value.field == "first_name" and "identity provider" in names.value.detail
    for field, value in (
        (ContactField.EMAIL, "dora@new.example"),
        (ContactField.PHONE, "+41791234567"),
    ):
        with pytest.raises(RuleViolation) as refused:
            service.request(user, field, value)
        assert refused.value.field == str(field)
    session.expire_all()
    assert session.get(User, user.id).first_name == "First"  # type: ignore[union-attr]
    assert session.scalars(select(ContactVerification)).all() == []
    assert session.scalars(select(Message)).all() == []


def test_service_accounts_have_no_self_service(session: OstiarySession, runtime: Runtime) -> None:
    with session.atomic():
        account = ServiceAccounts(session, ACTOR).create("reporting")
    service = profiles(session, runtime, account)
    with pytest.raises(Forbidden):
        service.profile(account)
    with pytest.raises(Forbidden):
        service.update(account, ProfileUpdate(first_name="x"))
    with pytest.raises(Forbidden):
        service.request(account, ContactField.EMAIL, "svc@new.example")


def test_the_link_applies_the_address_once(session: OstiarySession, runtime: Runtime) -> None:
    user = make(session, runtime, "lena")
    service = profiles(session, runtime, user)
    service.request(user, ContactField.EMAIL, "lena@new.example")
    row = session.scalars(select(ContactVerification)).one()
    token_row = session.get(OneTimeToken, row.link_token_id)
    assert token_row is not None
    link = session.scalars(
        select(Message.text).where(Message.purpose == "email-verification")
    ).one()
    token = (link or "").split("token=")[1].split()[0]
    assert token_row.token_hash != token  # only its hash is kept
    assert ProfileService(session, runtime, Actor("(link)", "web")).verify_link("x" + token) is None
    changed = ProfileService(session, runtime, Actor("(link)", "web")).verify_link(token)
    assert changed is not None and changed.email == "lena@new.example"
    assert ProfileService(session, runtime, Actor("(link)", "web")).verify_link(token) is None
    # The code sent with the link is used up with it.
    with pytest.raises(VerificationFailed) as again:
        service.verify(user, ContactField.EMAIL, code_of(session, "lena@new.example"))
    assert again.value.verdict is Verdict.NO_CODE
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.updated")).one()
    assert event.actor == "lena" and event.target_id == str(user.id)
    assert event.changes == {
        "email": ["lena@old.example", "lena@new.example"],
        "email_verified": [False, True],
    }


def test_a_code_then_makes_the_link_useless(session: OstiarySession, runtime: Runtime) -> None:
    user = make(session, runtime, "lars")
    service = profiles(session, runtime, user)
    service.request(user, ContactField.EMAIL, "lars@new.example")
    link = session.scalars(
        select(Message.text).where(Message.purpose == "email-verification")
    ).one()
    token = (link or "").split("token=")[1].split()[0]
    service.verify(user, ContactField.EMAIL, code_of(session, "lars@new.example"))
    assert ProfileService(session, runtime, Actor("(link)", "web")).verify_link(token) is None


def test_a_deactivated_user_s_link_does_nothing(session: OstiarySession, runtime: Runtime) -> None:
    user = make(session, runtime, "ines")
    profiles(session, runtime, user).request(user, ContactField.EMAIL, "ines@new.example")
    link = session.scalars(
        select(Message.text).where(Message.purpose == "email-verification")
    ).one()
    token = (link or "").split("token=")[1].split()[0]
    UserService(session, ACTOR, runtime.passwords).act(user, LifecycleAction.DEACTIVATE)
    assert ProfileService(session, runtime, Actor("(link)", "web")).verify_link(token) is None
    session.expire_all()
    assert session.get(User, user.id).email == "ines@old.example"  # type: ignore[union-attr]


def test_deleting_a_user_forgets_the_change_waiting(
    session: OstiarySession, runtime: Runtime
) -> None:
    user = make(session, runtime, "dan")
    profiles(session, runtime, user).request(user, ContactField.PHONE, "+41791234567")
    UserService(session, ACTOR, runtime.passwords).act(user, LifecycleAction.DEACTIVATE)
    UserService(session, ACTOR, runtime.passwords).act(user, LifecycleAction.DELETE)
    assert session.scalars(select(ContactVerification)).all() == []
    sent = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.verification_sent")
    ).one()
    assert sent.changes == {"phone": "(erased)"}
