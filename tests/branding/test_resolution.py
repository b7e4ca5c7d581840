"""Which branding applies: client > client's context > e-mail domain's context > its
ancestors > instance; messages: the recipient's contexts."""

from __future__ import annotations

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.branding.resolution import BrandingResolver, ChosenBy
from ostiary.branding.schemas import BrandingIn
from ostiary.branding.services import BrandingService, Owner
from ostiary.clients.models import Client
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.users.models import Membership, User

ACTOR = Actor("test", "cli")


def _context(
    session: OstiarySession, key: str, type_: ContextType, parent: Context, **extra: object
) -> Context:
    return ContextService(session, ACTOR).create(
        ContextCreate(key=key, type=type_, name=key.title(), parent_id=parent.id, **extra)  # type: ignore[arg-type]
    )


def _brand(
    session: OstiarySession,
    name: str,
    *,
    context: Context | None = None,
    client: Client | None = None,
) -> None:
    BrandingService(session, ACTOR).put(
        Owner(context=context, client=client), BrandingIn(display_name=name)
    )


def _client(session: OstiarySession, client_id: str, context: Context | None = None) -> Client:
    client = Client(client_id=client_id, name=client_id, context_id=context.id if context else None)
    session.add(client)
    session.flush()
    return client


def _name(row: object) -> str | None:
    return getattr(row, "display_name", None)


def test_the_resolution_order(session: OstiarySession) -> None:
    service = ContextService(session, ACTOR)
    with session.atomic():
        root = service.root()
        assert root is not None
        tenant = _context(session, "smartplan", ContextType.TENANT, root)
        acme = _context(
            session, "acme", ContextType.ACCOUNT, tenant, email_domains=["acme.example"]
        )
        sub = _context(
            session, "acme-sales", ContextType.ACCOUNT, acme, email_domains=["sales.acme.example"]
        )
        plain = _context(
            session, "plain", ContextType.ACCOUNT, root, email_domains=["plain.example"]
        )
        own_app = _client(session, "own-app", acme)
        acme_app = _client(session, "acme-app", sub)
        shared = _client(session, "shared")
        rootless = _client(session, "rootless", plain)
        resolver = BrandingResolver(session)
        # Nothing branded yet: nothing anywhere.
        assert resolver.instance() is None and resolver.for_email("jo@acme.example") is None
        _brand(session, "Instance", context=root)
        _brand(session, "SmartPlan", context=tenant)
        _brand(session, "Acme", context=acme)
        _brand(session, "Own App", client=own_app)

    # The client's own branding wins over its context's.
    assert _name(resolver.for_client(own_app)) == "Own App"
    # Else its context's, inherited from the nearest ancestor that has one.
    assert _name(resolver.for_client(acme_app)) == "Acme"
    # A client of no context, or whose context inherits only the instance's: not the client's.
    assert resolver.for_client(shared) is None and resolver.for_client(rootless) is None
    # The e-mail domain's context, the deepest that has it, then its ancestors.
    assert _name(resolver.for_email("Jo@ACME.example")) == "Acme"
    assert _name(resolver.for_email("jo@sales.acme.example")) == "Acme"
    assert _name(resolver.for_email("jo@plain.example")) == "Instance"
    assert resolver.for_email("jo@nowhere.example") is None and resolver.for_email("jo") is None
    assert resolver.for_email("jo@acme_example") is None  # no wildcard matching
    # At the start of a login, then when the identifier is typed.
    start = resolver.at_login_start(own_app, "jo@plain.example")
    assert (
        start.chosen_by is ChosenBy.CLIENT and _name(resolver.get(start.branding_id)) == "Own App"
    )
    assert resolver.after_identifier(start, "jo@acme.example") == start
    neutral = resolver.at_login_start(shared, None)
    assert (
        neutral.chosen_by is ChosenBy.INSTANCE
        and _name(resolver.get(neutral.branding_id)) == "Instance"
    )
    typed = resolver.after_identifier(neutral, "jo@sales.acme.example")
    assert (
        typed.chosen_by is ChosenBy.EMAIL_DOMAIN
        and _name(resolver.get(typed.branding_id)) == "Acme"
    )
    hinted = resolver.at_login_start(rootless, "jo@acme.example")
    assert hinted.chosen_by is ChosenBy.EMAIL_DOMAIN
    assert resolver.brand(None).name == "Instance"


def test_a_recipient_gets_the_branding_above_all_their_contexts(session: OstiarySession) -> None:
    service = ContextService(session, ACTOR)
    with session.atomic():
        root = service.root()
        assert root is not None
        tenant = _context(session, "smartplan", ContextType.TENANT, root)
        one = _context(session, "one", ContextType.ACCOUNT, tenant)
        two = _context(session, "two", ContextType.ACCOUNT, tenant)
        _brand(session, "SmartPlan", context=tenant)
        _brand(session, "One", context=one)
        admin = session.scalars(select(User).where(User.username == "admin")).one()
    resolver = BrandingResolver(session)
    assert resolver.for_user(admin) is None  # the admin is at the root, which has none
    with session.atomic():
        session.execute(Membership.__table__.delete().where(Membership.user_id == admin.id))
        session.add(Membership(user_id=admin.id, context_id=one.id))
    assert _name(resolver.for_user(admin)) == "One"
    with session.atomic():
        session.add(Membership(user_id=admin.id, context_id=two.id))
    assert _name(resolver.for_user(admin)) == "SmartPlan"
