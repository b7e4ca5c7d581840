"""Accepting an invitation through its link.

A new person sets up an account with the invitation's address (the link proved that it is
theirs); a person who has an account signs in with it and joins. Either way they become a
member of the context with the invitation's groups, the administrators' group when they are
its first contact person, and the group ``lead`` when a CRM invited them as a lead. The link
is used up in the same transaction, so of two attempts exactly one succeeds.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update

from ostiary.access.groups import GroupService
from ostiary.access.models import AclTemplate, UserGroup
from ostiary.access.templates import TemplateService
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.policy import CHANNELS
from ostiary.authn.models import OneTimeToken
from ostiary.authn.tokens import OneTimeTokens
from ostiary.clients.schemas import problems_of
from ostiary.contexts.models import Context, ContextStatus
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import FieldProblem, InvalidInput, NotFound, RuleViolation
from ostiary.federation.models import IdentityProvider
from ostiary.federation.relying_party import VerifiedIdentity
from ostiary.federation.signin import FederatedSignIn
from ostiary.invitations.models import Invitation, InvitationState, InvitationStatus
from ostiary.invitations.schemas import AccountSetup
from ostiary.invitations.services import (
    ADMIN_GROUP,
    ADMIN_TEMPLATE,
    INVITATION_PURPOSE,
    LEAD_GROUP,
    domain_for,
)
from ostiary.messages.purposes import Channel
from ostiary.runtime import Runtime
from ostiary.users.lifecycle import LifecycleAction
from ostiary.users.memberships import MembershipService
from ostiary.users.models import DomainKind, TwoFactor, User, UserDomain, UserStatus
from ostiary.users.schemas import UserCreate, UserUpdate
from ostiary.users.services import UserService

_USERNAME_CHARS = re.compile(r"[^a-z0-9._@+-]")


class Unusable(enum.StrEnum):
    """Why a link cannot be used, for the page to say."""

    INVALID = "invalid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ACCEPTED = "accepted"
    CLOSED = "closed"


class LinkUnusable(NotFound):
    kind = "invitation-unusable"
    title = "Invitation link not usable"

    def __init__(self, reason: Unusable) -> None:
        super().__init__(f"the invitation link is {reason}", field="token")
        self.reason = reason


@dataclass(frozen=True)
class Opened:
    invitation: Invitation
    context: Context
    # The account that already has the invitation's address, if any.
    account: User | None


class Acceptance:
    def __init__(
        self, runtime: Runtime, session: OstiarySession, client_address: str | None
    ) -> None:
        self.runtime = runtime
        self.session = session
        self.client_address = client_address
        self.tokens = OneTimeTokens(session)

    def open(self, token: str) -> Opened:
        """The invitation behind a live link; ``LinkUnusable`` says why not."""
        found = self.tokens.find(INVITATION_PURPOSE, token) if token else None
        invitation = (
            self.session.scalars(
                select(Invitation).where(Invitation.token_id == found.id)
            ).one_or_none()
            if found is not None
            else None
        )
        if invitation is None or found is None:
            raise LinkUnusable(Unusable.INVALID)
        state = invitation.state(utcnow())
        if state is not InvitationState.PENDING:
            raise LinkUnusable(Unusable(state))
        if found.used_at is not None:
            raise LinkUnusable(Unusable.INVALID)
        context = self.session.get(Context, invitation.context_id)
        assert context is not None
        if context.status == ContextStatus.CLOSED:
            raise LinkUnusable(Unusable.CLOSED)
        account = self.session.scalars(
            select(User).where(User.email_key == invitation.email_key)
        ).one_or_none()
        return Opened(invitation, context, account)

    def sms_needed(self) -> bool:
        return sms_needed(self.runtime)

    # -- a new person ----------------------------------------------------------------------

    def register(self, token: str, form: Mapping[str, str]) -> tuple[User, Invitation]:
        """Make the account and accept. ``InvalidInput`` names each bad field; the link then
        stays usable."""
        opened = self.open(token)
        if opened.account is not None and not completes_draft(opened.account):
            raise RuleViolation(
                "an account with this e-mail address exists: sign in to accept", field="email"
            )
        setup = self._setup(opened, form)
        if opened.account is not None:
            return self._complete(token, opened, opened.account, setup), opened.invitation
        domain = self._domain(opened)
        password_hash = self._hash(setup.password)
        user = self._new_account(
            token,
            opened,
            domain,
            {
                "phone": setup.phone,
                "first_name": setup.first_name,
                "last_name": setup.last_name,
                "language": setup.language or opened.invitation.language,
            },
            password_hash=password_hash,
        )
        return user, opened.invitation

    def _domain(self, opened: Opened) -> UserDomain:
        """The user domain a new account in the invitation's context belongs to."""
        domain = domain_for(self.session, opened.context)
        if domain is None:
            raise RuleViolation("this context takes no invited users", field="token")
        return domain

    def _new_account(
        self,
        token: str,
        opened: Opened,
        domain: UserDomain,
        profile: dict[str, Any],
        *,
        password_hash: str | None = None,
        then: Callable[[User], None] | None = None,
    ) -> User:
        """An active account with the invitation's address and ``profile``, which accepts it
        (``then`` runs first, in the same transaction)."""
        invitation = opened.invitation
        actor = Actor(invitation.email, "web", None, self.client_address)
        with self.session.atomic():
            self._consume(token)
            user = UserService(self.session, actor, self.runtime.passwords).create(
                UserCreate(
                    username=self._username(invitation.email),
                    domain=domain.name,
                    status=UserStatus.ACTIVE,
                    email=invitation.email,
                    **profile,
                ),
                contexts=[opened.context],
                password_hash=password_hash,
            )
            if then is not None:
                then(user)
            actor = Actor(user.username, "web", user.id, self.client_address)
            self._accept(opened, user, actor, new_account=True)
        return user

    def _hash(self, password: str) -> str:
        """Hashed outside any transaction: what was read so far is let go first, so that no
        write lock (SQLite's) waits for argon2. The link is checked again when it is used."""
        self.session.commit()
        return self.runtime.passwords.hash(password)

    def _complete(self, token: str, opened: Opened, user: User, setup: AccountSetup) -> User:
        """A draft account with the address (made by an administrator or an import, never
        signed in) becomes the person's: their details, their password, active."""
        password_hash = self._hash(setup.password)
        actor = Actor(user.username, "web", user.id, self.client_address)
        users = UserService(self.session, actor, self.runtime.passwords)
        given = setup.model_dump(include={"first_name", "last_name", "phone", "language"})
        with self.session.atomic():
            self._consume(token)
            users.update(user, UserUpdate(**{k: v for k, v in given.items() if v is not None}))
            users.set_password_hash(user, password_hash)
            users.act(user, LifecycleAction.ACTIVATE)
            MembershipService(self.session, actor).add(user, opened.context)
            self._accept(opened, user, actor, new_account=False)
        return user

    def _setup(self, opened: Opened, form: Mapping[str, str]) -> AccountSetup:
        return account_setup(self.runtime, form, opened.invitation.email)

    def _username(self, email: str) -> str:
        return free_username(self.session, email)

    def register_federated(
        self, token: str, provider: IdentityProvider, identity: VerifiedIdentity
    ) -> tuple[User, Invitation]:
        """Accept through an upstream provider: the account it already signs in joins; else a
        new account with the invitation's address, linked to the identity, as ``register``
        would make it (no password: the provider authenticates the person)."""
        opened = self.open(token)
        signin = FederatedSignIn(self.session, self.runtime.passwords, self.client_address)
        linked = signin.linked(provider, identity)
        if linked is not None:
            if linked.status != UserStatus.ACTIVE:
                raise RuleViolation("your account here cannot sign in", field="token")
            return linked, self.join(token, linked)
        if opened.account is not None:
            raise RuleViolation(
                "an account with this e-mail address exists: sign in to accept", field="email"
            )
        user = self._new_account(
            token,
            opened,
            self._domain(opened),
            {"language": opened.invitation.language},
            then=lambda user: signin.link(user, provider, identity),
        )
        return user, opened.invitation

    # -- a person with an account ----------------------------------------------------------

    def join(self, token: str, user: User) -> Invitation:
        """The signed-in ``user`` joins. Only the account with the invitation's address may:
        the inviter chose that address, and the groups go to nobody else."""
        opened = self.open(token)
        if user.email_key != opened.invitation.email_key:
            raise RuleViolation(
                "this invitation is for another e-mail address than your account's",
                field="email",
            )
        actor = Actor(user.username, "web", user.id, self.client_address)
        with self.session.atomic():
            self._consume(token)
            MembershipService(self.session, actor).add(user, opened.context)
            self._accept(opened, user, actor, new_account=False)
        return opened.invitation

    def addressed_to(self, user: User) -> list[tuple[Invitation, Context]]:
        """The pending invitations to the account's own e-mail address (an address that
        changes only once its code or link proved it), into contexts that are not closed."""
        if not user.email_key or user.status != UserStatus.ACTIVE:
            return []
        rows = self.session.execute(
            select(Invitation, Context)
            .join(Context, Context.id == Invitation.context_id)
            .where(
                Invitation.email_key == user.email_key,
                Invitation.status == InvitationStatus.PENDING,
                Invitation.expires_at > utcnow(),
                Context.status != ContextStatus.CLOSED,
            )
            .order_by(Invitation.created_at.desc())
        )
        return [(invitation, context) for invitation, context in rows]

    def join_addressed(self, invitation_id: uuid.UUID, user: User) -> Invitation:
        """The signed-in ``user`` accepts an invitation to their own address from their
        account page, as if through its link: the link is used up in the same transaction."""
        found = {i.id: (i, c) for i, c in self.addressed_to(user)}.get(invitation_id)
        if found is None:
            raise LinkUnusable(Unusable.INVALID)
        invitation, context = found
        actor = Actor(user.username, "web", user.id, self.client_address)
        with self.session.atomic():
            spent = self.session.execute(
                update(OneTimeToken)
                .where(
                    OneTimeToken.id == invitation.token_id,
                    OneTimeToken.used_at.is_(None),
                    OneTimeToken.expires_at > utcnow(),
                )
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if invitation.token_id is None or spent.rowcount != 1:  # type: ignore[attr-defined]
                raise LinkUnusable(Unusable.INVALID)
            MembershipService(self.session, actor).add(user, context)
            self._accept(Opened(invitation, context, user), user, actor, new_account=False)
        return invitation

    # -- both ------------------------------------------------------------------------------

    def _consume(self, token: str) -> None:
        if self.tokens.consume(INVITATION_PURPOSE, token) is None:
            raise LinkUnusable(Unusable.INVALID)

    def _accept(self, opened: Opened, user: User, actor: Actor, *, new_account: bool) -> None:
        take_up(
            self.session, opened.invitation, opened.context, user, actor, new_account=new_account
        )


def take_up(
    session: OstiarySession,
    invitation: Invitation,
    context: Context,
    user: User,
    actor: Actor,
    *,
    new_account: bool,
) -> list[UserGroup]:
    """What accepting does once the invitation's address is proven to be ``user``'s (by the
    link, or by the code of a registration with the invited address); ``user`` is a member of
    ``context`` already. The invitation's groups, the administrators' group when asked, and for
    a lead the group ``lead`` and the event that tells the CRM. The one place that decides it,
    for every way in."""
    groups = GroupService(session, actor)
    joined = list(invitation.groups)
    if invitation.as_administrator:
        admins = admin_group(session, groups, context)
        if admins is not None:
            joined.append(admins)
    if invitation.lead:
        lead = groups.find(context, LEAD_GROUP)
        if lead is None:
            lead, _ = groups.put(context, LEAD_GROUP, role=LEAD_GROUP, rights={})
        joined.append(lead)
    for group in joined:
        groups.join(group, user)
    now = utcnow()
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = now
    invitation.accepted_by_id = user.id
    invitation.pending_key = None
    if invitation.token_id is not None:
        OneTimeTokens(session).consume_id(invitation.token_id)
    # The address the invitation went to is the account's, and it came back from it.
    user.email_verified = True
    audit = AuditLog(session)
    audit.record(
        actor,
        "invitation.accepted",
        target_type="invitation",
        target_id=invitation.id,
        context_id=context.id,
        changes={
            "user_id": str(user.id),
            "new_account": new_account,
            "groups": sorted({g.name for g in joined}),
            "email_verified": True,
        },
    )
    if invitation.lead:
        audit.record(
            actor,
            "user.registered",
            target_type="user",
            target_id=user.id,
            context_id=context.id,
            changes={"lead": True, "invitation": str(invitation.id)},
        )
    return joined


def live_invitations(
    session: OstiarySession, email_key: str, *, lead: bool | None = None
) -> list[Invitation]:
    """The pending invitations to an address (only the leads', or the others', when ``lead``
    says so), oldest first."""
    stmt = select(Invitation).where(
        Invitation.pending_key == email_key,
        Invitation.status == InvitationStatus.PENDING,
        Invitation.expires_at > utcnow(),
    )
    if lead is not None:
        stmt = stmt.where(Invitation.lead.is_(lead))
    return list(session.scalars(stmt.order_by(Invitation.id)))


def admin_group(
    session: OstiarySession, groups: GroupService, context: Context
) -> UserGroup | None:
    """The context's administrators' group, made from the ``account-administrator`` template
    the first time it is needed; None when no such template exists."""
    existing = groups.find(context, ADMIN_GROUP)
    if existing is not None:
        return existing
    template = session.scalars(
        select(AclTemplate).where(AclTemplate.key == ADMIN_TEMPLATE)
    ).one_or_none()
    if template is None:
        return None
    values = TemplateService(session, groups.actor).values(template)
    group, _ = groups.put(context, ADMIN_GROUP, role=None, rights=values)
    return group


def sms_needed(runtime: Runtime) -> bool:
    """Whether a new account must give a phone number: codes go by SMS at sign-in."""
    return Channel.SMS in CHANNELS[TwoFactor(runtime.settings.two_factor)]


def account_setup(runtime: Runtime, form: Mapping[str, str], email: str) -> AccountSetup:
    """A new person's details from a form; ``InvalidInput`` names each bad field (the
    password is checked against the policy, with the address it must not resemble)."""
    secret = ("password", "confirmation")
    values = {k: v if k in secret else v.strip() for k, v in form.items()}
    # An empty optional field is one not given.
    values = {k: v for k, v in values.items() if v or k in secret}
    problems: list[FieldProblem] = []
    setup: AccountSetup | None = None
    try:
        setup = AccountSetup.model_validate(
            {k: v for k, v in values.items() if k in AccountSetup.model_fields}
        )
    except ValidationError as exc:
        problems += problems_of(exc, {})
    password = form.get("password", "")
    problems += runtime.passwords.problems(password, field="password", email=email)
    if password != form.get("confirmation", ""):
        problems.append(FieldProblem("confirmation", "does not match the password", "match"))
    if sms_needed(runtime) and not values.get("phone"):
        problems.append(
            FieldProblem("phone", "is needed: sign-in codes are sent by SMS", "required")
        )
    if problems or setup is None:
        raise InvalidInput(_unique(problems))
    return setup


def free_username(session: OstiarySession, email: str) -> str:
    """A username made from the address that nobody has yet."""
    base = _USERNAME_CHARS.sub("", email.casefold()).lstrip("._@+-") or "user"
    base = base[:140]
    candidate, n = base, 1
    while session.scalars(select(User.id).where(User.username == candidate)).first():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def completes_draft(user: User) -> bool:
    """Whether accepting sets up this existing account, rather than signing in with it."""
    return (
        user.status == UserStatus.DRAFT
        and user.domain.kind == DomainKind.LOCAL
        and not user.service_account
        and user.password_hash is None
    )


def _unique(problems: list[FieldProblem]) -> list[FieldProblem]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for problem in problems:
        if (problem.field, problem.message) not in seen:
            seen.add((problem.field, problem.message))
            kept.append(problem)
    return kept
