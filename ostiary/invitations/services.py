"""Inviting people into contexts: one at a time or in batches, re-sending and revoking.

Every invitation is checked like the change it will make on acceptance: the context must lie
in the inviter's reach, and the groups it offers (and the administrators' group, for the first
person of an organization) must hold nothing the inviter could not grant themselves. The
e-mail is queued in the outbox in the invitation's own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select

from ostiary.access.admin import AdminScope
from ostiary.access.guard import EscalationRefused, GrantGuard
from ostiary.access.models import AclTemplate, UserGroup
from ostiary.access.templates import TemplateService
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.models import OneTimeToken
from ostiary.authn.tokens import OneTimeTokens
from ostiary.clients.models import Client
from ostiary.clients.schemas import problems_of
from ostiary.contexts.models import Context, ContextStatus
from ostiary.db.paths import within_paths
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    OstiaryError,
    RuleViolation,
)
from ostiary.invitations.models import Invitation, InvitationState, InvitationStatus
from ostiary.invitations.schemas import EntryError, EntryResult, InvitationCreate
from ostiary.messages.purposes import Channel
from ostiary.messages.services import Messages, display_name
from ostiary.runtime import Runtime
from ostiary.text import Text
from ostiary.users.models import DomainKind, Membership, User, UserDomain, UserStatus

INVITATION_PURPOSE = "invitation"
ADMIN_TEMPLATE = "account-administrator"
ADMIN_GROUP = "Administrators"
LEAD_GROUP = "lead"
# Entries of a batch written per transaction: short enough not to hold SQLite's write lock for
# long, and what succeeded stays when a later chunk fails.
CHUNK = 200


@dataclass(frozen=True)
class Inviter:
    """Who invites, where they may, and what they may grant."""

    actor: Actor
    scope: AdminScope
    guard: GrantGuard
    name: str


def inviter_name(session: OstiarySession, user: User) -> str:
    """How the e-mail names who invites: the person, or for a client's service account (a CRM
    calling with client credentials) the client's name."""
    if user.service_account:
        name = session.scalars(
            select(Client.name).where(Client.service_account_user_id == user.id)
        ).first()
        if name:
            return name
    return display_name(user)


def inviter_for(
    session: OstiarySession, runtime: Runtime, user: User, actor: Actor, scope: AdminScope
) -> Inviter:
    """The inviter behind a request (API or console): their reach, guard and name."""
    guard = GrantGuard(session, runtime.rights, user, scope)
    return Inviter(actor, scope, guard, inviter_name(session, user))


def link_for(runtime: Runtime, token: str) -> str:
    return f"{runtime.settings.issuer.rstrip('/')}/invite?token={token}"


def domain_for(session: OstiarySession, context: Context) -> UserDomain | None:
    """The domain of people invited into ``context``: ENTERPRISE where its users may be, else
    the first local domain allowed there (CSP for the root and tenants)."""
    domains = session.scalars(select(UserDomain).order_by(UserDomain.name)).all()
    fitting = [d for d in domains if d.kind == DomainKind.LOCAL and context.type in d.context_types]
    preferred = [d for d in fitting if d.name == "ENTERPRISE"]
    return (preferred or fitting or [None])[0]


class InvitationService:
    def __init__(self, session: OstiarySession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.audit = AuditLog(session)
        self.tokens = OneTimeTokens(session)
        # Within one call (a batch), what holds for a context and the template once checked.
        self._ready: set[uuid.UUID] = set()
        self._template: AclTemplate | None = None
        self._administered: set[uuid.UUID] = set()

    # -- inviting ------------------------------------------------------------------------

    def create(self, data: InvitationCreate, inviter: Inviter) -> Invitation:
        with self.session.atomic():
            return self._create(data, inviter)

    def batch(self, entries: Sequence[object], inviter: Inviter) -> list[EntryResult]:
        """One result per entry, in order; a bad entry fails alone. A transaction per chunk."""
        limit = self.settings.invitation_batch_max
        if len(entries) > limit:
            raise RuleViolation(
                Text(
                    "a batch holds at most {limit} entries, this one {count}",
                    limit=limit,
                    count=len(entries),
                ),
                field="entries",
            )
        results: list[EntryResult] = []
        for start in range(0, len(entries), CHUNK):
            chunk = list(enumerate(entries[start : start + CHUNK], start))
            try:
                with self.session.atomic():
                    done = [self._entry(index, entry, inviter) for index, entry in chunk]
                results += done
            except OstiaryError:
                # A conflict only the database saw (a race with another writer): each entry of
                # the chunk on its own then, so that only the one concerned fails.
                self._administered.clear()
                for index, entry in chunk:
                    try:
                        with self.session.atomic():
                            results.append(self._entry(index, entry, inviter))
                    except OstiaryError as exc:
                        results.append(_failed(index, exc))
        return results

    def _entry(self, index: int, entry: object, inviter: Inviter) -> EntryResult:
        try:
            data = InvitationCreate.model_validate(entry)
        except ValidationError as exc:
            return _failed(index, InvalidInput(problems_of(exc, {})))
        try:
            invitation = self._create(data, inviter)
        except OstiaryError as exc:
            if exc.refusal is not None:
                self.audit.record_refusal(exc.refusal)
            return _failed(index, exc)
        return EntryResult(index=index, outcome="created", id=invitation.id)

    def _create(self, data: InvitationCreate, inviter: Inviter) -> Invitation:
        """Checks first, writes after: an entry that fails has written nothing."""
        context = self._context(data.context_id, inviter.scope)
        groups = self._groups(context, data.groups)
        # A lead is a prospect, never an organization's contact person by default.
        wanted = False if data.lead and data.as_administrator is None else data.as_administrator
        template = self._admin_template(context, wanted)
        if wanted is None and template is not None:
            # Implied, not asked for: only when the inviter could grant it.
            template = template if self._may_grant(context, template, inviter) else None
        self._check_grants(context, groups, template, inviter)
        days = data.expires_in_days or self.settings.invitation_days
        self._make_room(context, data.email)
        token, row = self.tokens.create(INVITATION_PURPOSE, timedelta(days=days))
        self.session.flush()
        now = utcnow()
        invitation = Invitation(
            context_id=context.id,
            email=data.email,
            email_key=data.email.casefold(),
            pending_key=data.email.casefold(),
            status=InvitationStatus.PENDING,
            message=data.message,
            language=data.language,
            lead=data.lead,
            as_administrator=template is not None,
            days=days,
            inviter_id=inviter.actor.user_id,
            inviter_name=inviter.name,
            token_id=row.id,
            created_at=now,
            sent_at=now,
            expires_at=row.expires_at,
            groups=groups,
        )
        self.session.add(invitation)
        self.session.flush()
        if invitation.as_administrator:
            self._administered.add(context.id)
        self._send(invitation, context, token)
        self.audit.record(
            inviter.actor,
            "invitation.created",
            target_type="invitation",
            target_id=invitation.id,
            context_id=context.id,
            changes={
                "email": invitation.email,
                "groups": [g.name for g in groups],
                "lead": invitation.lead,
                "as_administrator": invitation.as_administrator,
                "expires_at": invitation.expires_at.isoformat(),
            },
        )
        return invitation

    def _context(self, context_id: uuid.UUID, scope: AdminScope) -> Context:
        context = self.session.get(Context, context_id)
        if context is None:
            raise NotFound(
                Text("no context with id '{context_id}'", context_id=context_id), field="context_id"
            )
        scope.require(context)
        if context.id in self._ready:
            return context
        if context.status == ContextStatus.CLOSED:
            raise RuleViolation("nobody can be invited into a closed context", field="context_id")
        if domain_for(self.session, context) is None:
            raise RuleViolation(
                Text("no local user domain allows {type} contexts", type=context.type),
                field="context_id",
            )
        if not Messages(self.session, self.runtime).available(Channel.EMAIL):
            raise RuleViolation("no way to send e-mail is configured", field="email")
        self._ready.add(context.id)
        return context

    def _groups(self, context: Context, refs: Sequence[str]) -> list[UserGroup]:
        found: list[UserGroup] = []
        for position, ref in enumerate(refs):
            group = self._group(context, ref)
            if group is None:
                raise NotFound(
                    Text("the context has no group with id or name '{ref}'", ref=ref),
                    field=f"groups[{position}]",
                )
            if group not in found:
                found.append(group)
        return found

    def _group(self, context: Context, ref: str) -> UserGroup | None:
        return group_in(self.session, context, ref)

    def _admin_template(self, context: Context, wanted: bool | None) -> AclTemplate | None:
        """The template of the administrators' group, when the invitee is to be one: as asked,
        or, when not said, if the context has no member yet (its first contact person)."""
        if wanted is False:
            return None
        if self._template is None:
            self._template = self.session.scalars(
                select(AclTemplate).where(AclTemplate.key == ADMIN_TEMPLATE)
            ).one_or_none()
        template = self._template
        fits = template is not None and context.type in template.context_types
        if wanted is None:
            return template if fits and self._first_invitation(context) else None
        if not fits:
            raise RuleViolation(
                Text(
                    "the '{admin_template}' template does not apply to {type} contexts",
                    admin_template=ADMIN_TEMPLATE,
                    type=context.type,
                ),
                field="as_administrator",
            )
        return template

    def _first_invitation(self, context: Context) -> bool:
        """Nobody is a member yet, and nobody else is invited as its administrator."""
        if context.id in self._administered:
            return False
        # Drafts (imported, never signed in) do not count: they cannot administer anything.
        member = self.session.scalars(
            select(Membership.user_id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.context_id == context.id, User.status != UserStatus.DRAFT)
            .limit(1)
        ).first()
        first = member is None and (
            self.session.scalars(
                select(Invitation.id)
                .where(*_state_filter(InvitationState.PENDING, utcnow()))
                .where(Invitation.context_id == context.id, Invitation.as_administrator.is_(True))
                .limit(1)
            ).first()
            is None
        )
        if not first:
            self._administered.add(context.id)
        return first

    def _check_grants(
        self,
        context: Context,
        groups: Sequence[UserGroup],
        template: AclTemplate | None,
        inviter: Inviter,
    ) -> None:
        check_group_grants(inviter.guard, context, groups)
        if template is not None:
            values = TemplateService(self.session, inviter.actor).values(template)
            try:
                inviter.guard.check(context, values, target="template", target_id=template.id)
            except EscalationRefused as exc:
                raise EscalationRefused(
                    exc.detail, field="as_administrator", refusal=exc.refusal
                ) from None

    def _may_grant(self, context: Context, template: AclTemplate, inviter: Inviter) -> bool:
        if inviter.scope.unrestricted:
            return True
        values = TemplateService(self.session, inviter.actor).values(template)
        try:
            inviter.guard.check(context, values, target="template", target_id=template.id)
        except EscalationRefused:
            return False
        return True

    def _make_room(self, context: Context, email: str) -> None:
        """Refuse a second live invitation, or a member (but for a draft, which accepting
        sets up); an expired invitation gives way."""
        key = email.casefold()
        member = self.session.scalars(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(
                User.email_key == key,
                Membership.context_id == context.id,
                User.status != UserStatus.DRAFT,
            )
        ).first()
        if member is not None:
            raise AlreadyExists(
                Text("{email} is a member of this context already", email=email), field="email"
            )
        existing = self.session.scalars(
            select(Invitation).where(
                Invitation.context_id == context.id, Invitation.pending_key == key
            )
        ).one_or_none()
        if existing is None:
            return
        if existing.state(utcnow()) is InvitationState.PENDING:
            raise AlreadyExists(
                Text(
                    "{email} has a pending invitation into this context: re-send it instead (invitation {id})",
                    email=email,
                    id=existing.id,
                ),
                field="email",
            )
        existing.pending_key = None
        self.session.flush()

    def _send(self, invitation: Invitation, context: Context, token: str) -> None:
        known = self.session.scalars(
            select(User).where(User.email_key == invitation.email_key)
        ).one_or_none()
        Messages(self.session, self.runtime).send(
            INVITATION_PURPOSE,
            known or invitation.email,
            {
                "link": link_for(self.runtime, token),
                "days": invitation.days,
                "organization": context.name,
                "inviter": invitation.inviter_name,
                "message": invitation.message or "",
            },
            channel=Channel.EMAIL,
            language=invitation.language,
            context=context,
        )

    # -- following up --------------------------------------------------------------------

    def get(self, invitation_id: uuid.UUID, scope: AdminScope) -> Invitation:
        invitation = self.session.get(Invitation, invitation_id)
        if invitation is None:
            raise NotFound(
                Text("no invitation with id '{invitation_id}'", invitation_id=invitation_id),
                field="id",
            )
        context = self.session.get(Context, invitation.context_id)
        if context is None or not scope.covers(context):
            raise scope.refuse("invitation", invitation_id, invitation.context_id)
        return invitation

    def search(
        self,
        *,
        visible_paths: Sequence[str] | None,
        context_id: uuid.UUID | None = None,
        state: InvitationState | None = None,
        email: str | None = None,
        before_id: uuid.UUID | None = None,
        limit: int = 50,
    ) -> Sequence[Invitation]:
        """Newest first."""
        stmt = select(Invitation)
        if context_id is not None:
            stmt = stmt.where(Invitation.context_id == context_id)
        if email is not None:
            stmt = stmt.where(Invitation.email_key == email.strip().casefold())
        if state is not None:
            stmt = stmt.where(*_state_filter(state, utcnow()))
        if before_id is not None:
            stmt = stmt.where(Invitation.id < before_id)
        visible = within_paths(Context.path, visible_paths)
        if visible is not None:
            stmt = stmt.join(Context, Context.id == Invitation.context_id).where(visible)
        return self.session.scalars(stmt.order_by(Invitation.id.desc()).limit(limit)).all()

    def resend(self, invitation: Invitation, inviter: Inviter) -> Invitation:
        """A new link with a new expiry; the previous link stops working."""
        now = utcnow()
        if invitation.state(now) in (InvitationState.ACCEPTED, InvitationState.REVOKED):
            raise InvalidTransition(
                Text(
                    "the invitation is {state} and cannot be sent again",
                    state=invitation.state(now),
                ),
                field="state",
            )
        with self.session.atomic():
            context = self.session.get(Context, invitation.context_id)
            assert context is not None
            template = self._admin_template(context, invitation.as_administrator or False)
            self._check_grants(context, invitation.groups, template, inviter)
            if invitation.pending_key is None:
                # It had expired and given way; it is pending again unless another one is.
                invitation.pending_key = invitation.email_key
                self.session.flush()
            self._forget_token(invitation)
            token, row = self.tokens.create(INVITATION_PURPOSE, timedelta(days=invitation.days))
            self.session.flush()
            invitation.token_id = row.id
            invitation.expires_at = row.expires_at
            invitation.sent_at = now
            invitation.sent_count += 1
            self._send(invitation, context, token)
            self.audit.record(
                inviter.actor,
                "invitation.resent",
                target_type="invitation",
                target_id=invitation.id,
                context_id=invitation.context_id,
                changes={
                    "sent_count": invitation.sent_count,
                    "expires_at": row.expires_at.isoformat(),
                },
            )
        return invitation

    def revoke(self, invitation: Invitation, actor: Actor) -> Invitation:
        """The link stops working at once; revoking twice changes nothing."""
        if invitation.status == InvitationStatus.REVOKED:
            return invitation
        if invitation.status == InvitationStatus.ACCEPTED:
            raise InvalidTransition("an accepted invitation cannot be revoked", field="state")
        with self.session.atomic():
            now = utcnow()
            invitation.status = InvitationStatus.REVOKED
            invitation.revoked_at = now
            invitation.pending_key = None
            # The token is kept, used up, so that the link can still say it was withdrawn.
            self._spend_token(invitation, now)
            self.audit.record(
                actor,
                "invitation.revoked",
                target_type="invitation",
                target_id=invitation.id,
                context_id=invitation.context_id,
                changes={"email": invitation.email},
            )
        return invitation

    def _spend_token(self, invitation: Invitation, now: datetime) -> None:
        if invitation.token_id is None:
            return
        row = self.session.get(OneTimeToken, invitation.token_id)
        if row is not None and row.used_at is None:
            row.used_at = now

    def _forget_token(self, invitation: Invitation) -> None:
        if invitation.token_id is not None:
            row = self.session.get(OneTimeToken, invitation.token_id)
            invitation.token_id = None
            if row is not None:
                self.session.delete(row)
            self.session.flush()


def group_in(session: OstiarySession, context: Context, ref: str) -> UserGroup | None:
    """The group of ``context`` with this id or name."""
    try:
        group_id = uuid.UUID(ref)
    except ValueError:
        return session.scalars(
            select(UserGroup).where(UserGroup.context_id == context.id, UserGroup.name == ref)
        ).one_or_none()
    group = session.get(UserGroup, group_id)
    return group if group is not None and group.context_id == context.id else None


def check_group_grants(guard: GrantGuard, context: Context, groups: Sequence[UserGroup]) -> None:
    """``EscalationRefused``, naming the group's place, for a group that holds a right the
    granting caller could not give."""
    for position, group in enumerate(groups):
        try:
            guard.check(
                context,
                {r.acl_id: r.value for r in group.rights},
                target="group",
                target_id=group.id,
            )
        except EscalationRefused as exc:
            raise EscalationRefused(
                exc.detail, field=f"groups[{position}]", refusal=exc.refusal
            ) from None


def _state_filter(state: InvitationState, now: datetime) -> Iterator[object]:
    if state is InvitationState.PENDING:
        yield Invitation.status == InvitationStatus.PENDING
        yield Invitation.expires_at > now
    elif state is InvitationState.EXPIRED:
        yield Invitation.status == InvitationStatus.PENDING
        yield Invitation.expires_at <= now
    else:
        yield Invitation.status == str(state)


def _failed(index: int, exc: OstiaryError) -> EntryResult:
    return EntryResult(
        index=index,
        outcome="failed",
        error=EntryError(type=exc.type, status=exc.status, detail=exc.detail, field=exc.field),
    )
