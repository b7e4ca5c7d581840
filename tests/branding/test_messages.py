"""Messages carry the branding of the recipient's contexts, or of the context they are about;
templates may use the branding variables, checked when saved."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.branding.schemas import BrandingIn
from ostiary.branding.services import BrandingService, Owner
from ostiary.contexts.models import ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.messages.purposes import Channel, purpose_of
from ostiary.messages.rendering import Source, problems_of
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User

ACTOR = Actor("test", "cli")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


def test_a_users_messages_carry_their_contexts_branding(
    runtime: Runtime, session: OstiarySession
) -> None:
    with session.atomic():
        root = ContextService(session, ACTOR).root()
        acme = ContextService(session, ACTOR).create(
            ContextCreate(key="acme", type=ContextType.ACCOUNT, name="Acme", parent_id=root.id)  # type: ignore[union-attr]
        )
        BrandingService(session, ACTOR).put(
            Owner(context=acme),
            BrandingIn(display_name="Acme <Planning>", primary_color="#ffd700",
                       texts={"en": {"footer": "Acme & Co"}}),  # type: ignore[arg-type]
        )  # fmt: skip
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        admin.email, admin.phone = "admin@acme.example", "+41446681800"
        session.execute(Membership.__table__.delete().where(Membership.user_id == admin.id))
        session.add(Membership(user_id=admin.id, context_id=acme.id))
    messages = Messages(session, runtime)
    mail = messages.send("password-changed", admin)
    assert mail.sender_name == "Acme <Planning>"
    assert mail.html and "Acme &lt;Planning&gt;" in mail.html and "<Planning>" not in mail.html
    assert "background:#ffd700;color:#000000" in mail.html  # black reads better on gold
    assert "Acme &amp; Co" in mail.html
    assert mail.text and mail.text.endswith("-- \nAcme <Planning>\nAcme & Co\n")
    sms = messages.send(
        "second-factor-code", admin, {"code": "123456", "minutes": 5}, channel="sms"
    )
    assert sms.text and sms.text.endswith(" - Acme <Planning>")
    # The context a message is about comes before the recipient's own.
    with session.atomic():
        session.execute(Membership.__table__.delete().where(Membership.user_id == admin.id))
        session.add(Membership(user_id=admin.id, context_id=root.id))  # type: ignore[union-attr]
    assert messages.send("password-changed", admin).sender_name is None
    assert messages.send("password-changed", admin, context=acme).sender_name == "Acme <Planning>"


def test_templates_may_use_the_branding_variables_and_no_made_up_ones() -> None:
    purpose = purpose_of("password-changed")
    assert purpose is not None
    fine = Source(subject="{{ brand_name }}", text="{{ brand_name }} {{ brand_support_url }}",
                  html='<img src="{{ brand_logo_url }}" style="color:{{ brand_text_color }};'
                       'background:{{ brand_primary_color }};border-color:{{ brand_accent_color }}">')  # fmt: skip
    assert problems_of(purpose, Channel.EMAIL, fine) == []
    [problem] = problems_of(purpose, Channel.EMAIL, Source(subject="x", text="{{ brand_colour }}"))
    assert problem.field == "text" and "brand_colour" in problem.message
