"""Organizations that register themselves, and people who ask to join one.

A registrant gets a draft account at once (it cannot sign in) and proves their e-mail address
by code or link, then their phone number by SMS code when they gave one; only then is the
request submitted. A new organization is an account context in status ``pending`` under the
configured parent until the back office approves it; a join request waits for the
organization's contact persons. Rules that approve at once: the CRM's running contract for
the organization's number, and (when switched on) an e-mail domain of the organization.

An address that already belongs to an account gets a notice instead of a code, and the page
says the same as for any other address: registering reveals no more than signing in does.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError
from sqlalchemy import select

from ostiary import text
from ostiary.access.catalogue import OSTIARY_MODULE, Right
from ostiary.access.models import Acl, GroupMember, GroupRight, Module, UserGroup
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.codes import Verdict
from ostiary.clients.schemas import problems_of
from ostiary.contexts.models import Context, ContextStatus, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.contracts.services import has_running_contract
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import (
    AlreadyExists,
    FieldProblem,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RuleViolation,
)
from ostiary.invitations.acceptance import account_setup, free_username, live_invitations, take_up
from ostiary.invitations.services import domain_for
from ostiary.messages.purposes import Channel
from ostiary.messages.services import Messages
from ostiary.registrations.decisions import BY_CONTRACT, Decisions
from ostiary.registrations.models import Registration, RegistrationKind, RegistrationState
from ostiary.registrations.schemas import OrganizationFields
from ostiary.runtime import Runtime
from ostiary.text import Text
from ostiary.users.lifecycle import LifecycleAction
from ostiary.users.memberships import MembershipService
from ostiary.users.models import ContactField, Membership, User, UserStatus
from ostiary.users.profile import PURPOSES, TooManyTries, VerificationFailed
from ostiary.users.schemas import UserCreate, check_email
from ostiary.users.services import UserService
from ostiary.users.verification import ContactVerifications

OFF = "registration is not offered here"
NO_ORGANIZATION = "no organization takes requests under this name or number"
# Who approved when no person did.
BY_EMAIL_DOMAIN = "rule: e-mail domain"

# Like the other steps of a join request, an audit event only: no webhook event (the
# catalogue announces the membership an approval makes, not the request).
WITHDRAWN = "join_request.withdrawn"
SUBMITTED = {
    RegistrationKind.ORGANIZATION: "registration.submitted",
    RegistrationKind.JOIN: "join_request.submitted",
}


@dataclass(frozen=True)
class Progress:
    """Where a registrant stands: the id their pages carry, and what they must do next."""

    registration_id: uuid.UUID
    # ``email`` or ``phone`` while a code is awaited, else None.
    awaiting: ContactField | None
    state: RegistrationState


class RegistrationService:
    def __init__(
        self,
        session: OstiarySession,
        runtime: Runtime,
        client_address: str | None = None,
        today: date | None = None,
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.client_address = client_address
        self.today = today or utcnow().date()
        self.audit = AuditLog(session)
        self.messages = Messages(session, runtime)
        self.verifications = ContactVerifications(session, runtime.settings)

    # -- registering ---------------------------------------------------------------------

    def parent(self) -> Context:
        """Where new organizations go; ``NotFound`` when registration is off."""
        key = self.settings.registration_parent
        parent = ContextService(self.session, Actor.system()).get_by_key(key) if key else None
        if parent is None or parent.type not in (ContextType.ROOT, ContextType.TENANT):
            raise NotFound(OFF, field="organization")
        return parent

    def register_organization(self, form: Mapping[str, str]) -> Progress:
        parent = self.parent()
        fields, email = self._check(form, organization=True)
        assert isinstance(fields, OrganizationFields)
        existing = self._existing_organization(fields.number)
        return self._register(
            form,
            email,
            RegistrationKind.ORGANIZATION,
            organization=existing,
            new=None if existing is not None else (parent, fields),
        )

    def register_to_join(self, form: Mapping[str, str]) -> Progress:
        """A new person asks to join the organization named by its number (or exact name)."""
        self.parent()
        _, email = self._check(form, organization=False)
        context = self.joinable(form.get("organization", "").strip())
        if context is None:
            raise NotFound(NO_ORGANIZATION, field="organization")
        return self._register(form, email, RegistrationKind.JOIN, organization=context, new=None)

    def ask_to_join(self, user: User, ref: str) -> Registration:
        """A signed-in person asks to join the organization named by its number or exact name;
        their account's address is the one the request shows."""
        if user.service_account or user.status != UserStatus.ACTIVE or not user.email:
            raise RuleViolation(
                "only a person's active account with an e-mail address can ask",
                field="organization",
            )
        context = self.joinable(ref.strip())
        if context is None:
            raise NotFound(NO_ORGANIZATION, field="organization")
        if self.session.get(Membership, (user.id, context.id)) is not None:
            raise AlreadyExists(
                "you are a member of this organization already", field="organization"
            )
        waiting = self.session.scalars(
            select(Registration.id).where(
                Registration.user_id == user.id,
                Registration.context_id == context.id,
                Registration.state == RegistrationState.PENDING,
            )
        ).first()
        if waiting is not None:
            raise AlreadyExists(
                "your request to join this organization waits already", field="organization"
            )
        with self.session.atomic():
            now = utcnow()
            row = Registration(
                kind=RegistrationKind.JOIN,
                state=RegistrationState.UNVERIFIED,
                context_id=context.id,
                user_id=user.id,
                organization_name=context.name,
                number=context.number,
                email=user.email,
                email_key=user.email.casefold(),
                first_name=user.first_name,
                last_name=user.last_name,
                # The account's address, proven or not: the request says which it is.
                email_verified_at=now if user.email_verified else None,
            )
            self.session.add(row)
            self.session.flush()
            self._submit(row, user)
        return row

    def withdraw(self, user: User, registration_id: uuid.UUID) -> Registration:
        """The person who asked to join takes their request back while it waits: the contact
        persons no longer see it waiting. Another's request is not found, as one that does not
        exist; a decided one stays as it was decided."""
        row = self.session.get(Registration, registration_id)
        if row is None or row.kind != RegistrationKind.JOIN or row.user_id != user.id:
            raise NotFound(
                Text(
                    "no request of yours to join with id '{registration_id}'",
                    registration_id=registration_id,
                ),
                field="id",
            )
        if row.state != RegistrationState.PENDING:
            raise InvalidTransition(
                Text(
                    "the request is {state}: only a waiting one can be withdrawn", state=row.state
                ),
                field="state",
            )
        actor = Actor(user.username, "web", user.id, self.client_address)
        with self.session.atomic():
            Decisions(self.session, self.runtime, self.today).take(row, RegistrationState.WITHDRAWN)
            row.decided_at = utcnow()
            row.decided_by_id = user.id
            row.decided_by = actor.label
            self.audit.record(
                actor,
                WITHDRAWN,
                target_type="registration",
                target_id=row.id,
                context_id=row.context_id,
                changes={"state": [RegistrationState.PENDING, RegistrationState.WITHDRAWN]},
            )
        return row

    def joining_offered(self) -> bool:
        """Whether signed-in people may ask to join an organization here."""
        try:
            self.parent()
        except NotFound:
            return False
        return True

    def requests_of(self, user: User) -> list[Registration]:
        """The requests to join an organization that ``user`` made, newest first."""
        return list(
            self.session.scalars(
                select(Registration)
                .where(
                    Registration.user_id == user.id,
                    Registration.kind == RegistrationKind.JOIN,
                    Registration.state != RegistrationState.UNVERIFIED,
                )
                .order_by(Registration.created_at.desc(), Registration.id.desc())
            )
        )

    def joinable(self, ref: str) -> Context | None:
        """An active organization that takes join requests: an account below the
        registration parent, found by its number or its exact name."""
        if not ref:
            return None
        parent = self.parent()
        found = self.session.scalars(
            select(Context)
            .where(
                Context.type == ContextType.ACCOUNT,
                Context.status == ContextStatus.ACTIVE,
                Context.path.startswith(parent.path),
                (Context.number == ref) | (Context.name_key == ref.casefold()),
            )
            .limit(2)
        ).all()
        return found[0] if len(found) == 1 else None

    def _check(self, form: Mapping[str, str], *, organization: bool) -> tuple[object, str]:
        problems: list[FieldProblem] = []
        fields: OrganizationFields | None = None
        if organization:
            given = {
                "organization": form.get("organization", "").strip(),
                "number": form.get("number", "").strip() or None,
                "email_domains": [
                    d for d in form.get("email_domains", "").replace(",", " ").split() if d
                ],
            }
            try:
                fields = OrganizationFields.model_validate(given)
            except ValidationError as exc:
                problems += problems_of(exc, {})
        email = form.get("email", "").strip()
        try:
            email = check_email(email)
        except ValueError as exc:
            problems.append(FieldProblem("email", text.of(exc), "email"))
        try:
            account_setup(self.runtime, form, email)
        except InvalidInput as exc:
            problems += exc.problems
        if problems:
            raise InvalidInput(problems)
        return fields, email

    def _existing_organization(self, number: str | None) -> Context | None:
        """A context the CRM made first under this number, still waiting for its contact
        person: the registration is for it. Any other holder of the number refuses."""
        if number is None:
            return None
        found = ContextService(self.session, Actor.system()).get_by_number(number)
        if found is None:
            return None
        if found.status == ContextStatus.PENDING and found.type == ContextType.ACCOUNT:
            member = self.session.scalars(
                select(Membership.user_id).where(Membership.context_id == found.id).limit(1)
            ).first()
            taken = self.session.scalars(
                select(Registration.id)
                .where(
                    Registration.context_id == found.id,
                    Registration.state.in_([RegistrationState.PENDING, RegistrationState.APPROVED]),
                )
                .limit(1)
            ).first()
            if member is None and taken is None:
                return found
        raise RuleViolation(
            "an organization with this number is registered already: ask to join it instead",
            field="number",
        )

    def _register(
        self,
        form: Mapping[str, str],
        email: str,
        kind: RegistrationKind,
        *,
        organization: Context | None,
        new: tuple[Context, OrganizationFields] | None,
    ) -> Progress:
        setup = account_setup(self.runtime, form, email)
        key = email.casefold()
        actor = Actor(email, "web", None, self.client_address)
        known = self.session.scalars(select(User).where(User.email_key == key)).first()
        if known is not None:
            return self._notify_known(known, kind)
        # Hashed outside any transaction, so that no write lock waits for argon2.
        self.session.commit()
        password_hash = self.runtime.passwords.hash(setup.password)
        with self.session.atomic():
            if new is not None:
                parent, fields = new
                organization = ContextService(self.session, actor).create(
                    ContextCreate(
                        type=ContextType.ACCOUNT,
                        name=fields.organization,
                        parent_id=parent.id,
                        number=fields.number,
                        status=ContextStatus.PENDING,
                        email_domains=fields.email_domains,
                    )
                )
            assert organization is not None
            domain = domain_for(self.session, organization)
            if domain is None:
                raise RuleViolation(
                    "this organization takes no registered users", field="organization"
                )
            user = UserService(self.session, actor, self.runtime.passwords).create(
                UserCreate(
                    username=free_username(self.session, email),
                    domain=domain.name,
                    status=UserStatus.DRAFT,
                    email=email,
                    phone=setup.phone,
                    first_name=setup.first_name,
                    last_name=setup.last_name,
                    language=setup.language,
                ),
                password_hash=password_hash,
            )
            registration = Registration(
                kind=kind,
                state=RegistrationState.UNVERIFIED,
                context_id=organization.id,
                made_context=new is not None,
                user_id=user.id,
                organization_name=organization.name,
                number=organization.number,
                email=email,
                email_key=key,
                first_name=setup.first_name,
                last_name=setup.last_name,
                phone=setup.phone,
            )
            self.session.add(registration)
            self.session.flush()
            self._send_code(registration, user, ContactField.EMAIL)
        return Progress(registration.id, ContactField.EMAIL, RegistrationState.UNVERIFIED)

    def _notify_known(self, known: User, kind: RegistrationKind) -> Progress:
        """The address has an account: its owner is told, the visitor sees the usual page
        (with an id that leads nowhere)."""
        with self.session.atomic():
            self.messages.send(
                "registration-known",
                known,
                {"link": f"{self.settings.issuer.rstrip('/')}/login"},
                channel=Channel.EMAIL,
            )
        return Progress(uuid.uuid4(), ContactField.EMAIL, RegistrationState.UNVERIFIED)

    def _send_code(self, registration: Registration, user: User, field: ContactField) -> None:
        value = registration.email if field is ContactField.EMAIL else registration.phone
        assert value is not None
        issued = self.verifications.issue(user, field, value)
        variables: dict[str, object] = {
            "code": issued.code,
            "minutes": self.settings.verification_minutes,
        }
        if issued.link_token is not None:
            base = self.settings.issuer.rstrip("/")
            variables["link"] = f"{base}/register/confirm?token={issued.link_token}"
        self.messages.send(
            PURPOSES[field],
            user,
            variables,
            channel=Channel.EMAIL if field is ContactField.EMAIL else Channel.SMS,
            address=value,
            context=registration.context_id,
        )

    # -- verifying -----------------------------------------------------------------------

    def progress(self, registration_id: uuid.UUID) -> Progress:
        row = self.session.get(Registration, registration_id)
        if row is None or row.state != RegistrationState.UNVERIFIED:
            state = RegistrationState(row.state) if row else RegistrationState.UNVERIFIED
            return Progress(registration_id, None if row else ContactField.EMAIL, state)
        return Progress(row.id, self._awaiting(row), RegistrationState(row.state))

    def verify_code(self, registration_id: uuid.UUID, code: str) -> Progress:
        """The code of the address or number awaited; ``VerificationFailed`` when wrong (and
        for an id that leads nowhere, so that it looks like any other)."""
        row = self.session.get(Registration, registration_id)
        user = self.session.get(User, row.user_id) if row and row.user_id else None
        if row is None or user is None or row.state != RegistrationState.UNVERIFIED:
            with self.session.atomic():
                verdict = self.verifications.check_unknown(registration_id)
            if verdict is Verdict.LOCKED:
                raise TooManyTries(self.verifications.unknown_retry_after(registration_id))
            raise VerificationFailed(verdict)
        field = self._awaiting(row)
        assert field is not None
        with self.session.atomic():
            verdict, _ = self.verifications.check_code(user, field, code.strip())
            if verdict is Verdict.OK:
                self._verified(row, user, field)
        if verdict is Verdict.LOCKED:
            raise TooManyTries(self.verifications.tries_retry_after(user))
        if verdict is not Verdict.OK:
            raise VerificationFailed(verdict)
        return self.progress(row.id)

    def confirm_link(self, token: str) -> Progress | None:
        """The e-mail link; None when it is unknown, used or expired."""
        with self.session.atomic():
            used = self.verifications.check_link(token) if token else None
            row = (
                self.session.scalars(
                    select(Registration).where(
                        Registration.user_id == used.user_id,
                        Registration.state == RegistrationState.UNVERIFIED,
                    )
                ).first()
                if used is not None
                else None
            )
            if row is None:
                return None
            user = self.session.get(User, row.user_id)
            assert user is not None
            self._verified(row, user, ContactField.EMAIL)
        return self.progress(row.id)

    def _awaiting(self, row: Registration) -> ContactField | None:
        if row.email_verified_at is None:
            return ContactField.EMAIL
        if row.phone is not None and row.phone_verified_at is None:
            return ContactField.PHONE
        return None

    def _verified(self, row: Registration, user: User, field: ContactField) -> None:
        now = utcnow()
        if field is ContactField.EMAIL:
            row.email_verified_at = now
            user.email_verified = True
            self._take_up_lead_invitations(user)
        else:
            row.phone_verified_at = now
        following = self._awaiting(row)
        if following is not None:
            self._send_code(row, user, following)
            return
        self._submit(row, user)

    def _take_up_lead_invitations(self, user: User) -> None:
        """A lead whom the CRM invited and who registered here instead of following the link:
        the code proved the invited address as the link would have, so each of their lead
        invitations is taken up as by the link (``take_up``): the account opens, and they join
        the inviting context with the group ``lead``. Their registration goes on as usual."""
        assert user.email_key is not None
        actor = Actor(user.username, "web", user.id, self.client_address)
        new_account = user.status == UserStatus.DRAFT
        for invitation in live_invitations(self.session, user.email_key, lead=True):
            context = self.session.get(Context, invitation.context_id)
            if (
                context is None
                or context.status == ContextStatus.CLOSED
                or context.type not in user.domain.context_types
            ):
                continue
            if user.status == UserStatus.DRAFT:
                UserService(self.session, actor, self.runtime.passwords).act(
                    user, LifecycleAction.ACTIVATE
                )
            MembershipService(self.session, actor).add(user, context)
            take_up(self.session, invitation, context, user, actor, new_account=new_account)

    def _submit(self, row: Registration, user: User) -> None:
        row.state = RegistrationState.PENDING
        row.submitted_at = utcnow()
        context = self.session.get(Context, row.context_id)
        assert context is not None
        actor = Actor(user.username, "web", user.id, self.client_address)
        self.audit.record(
            actor,
            SUBMITTED[RegistrationKind(row.kind)],
            target_type="registration",
            target_id=row.id,
            context_id=row.context_id,
            changes={
                "organization": row.organization_name,
                "number": row.number,
                "email": row.email,
            },
        )
        rule = self._rule(row, context, user)
        if rule is not None:
            Decisions(self.session, self.runtime, self.today).admit(
                row, context, user, Actor.system(), rule, ()
            )
        elif row.kind == RegistrationKind.JOIN:
            self._tell_contact_persons(row, context)

    def _rule(self, row: Registration, context: Context, user: User) -> str | None:
        """The rule that approves the request at once, if one does."""
        if row.kind == RegistrationKind.JOIN:
            # Only a proven address speaks for its domain.
            domain = row.email.rpartition("@")[2].casefold()
            if (
                self.settings.join_by_email_domain
                and user.email_verified
                and user.email_key == row.email_key
                and domain in context.email_domains
            ):
                return BY_EMAIL_DOMAIN
            return None
        domain = row.email.rpartition("@")[2].casefold()
        if context.email_domains and domain not in context.email_domains:
            # The CRM said whose addresses belong to it: anyone else waits for the back office.
            return None
        if has_running_contract(self.session, context.id, self.today):
            return BY_CONTRACT
        return None

    def _deciders(self, context: Context) -> list[User]:
        """The active members of ``context`` who may decide its join requests there: whose
        effective ``registrations.manage`` holds in it, whatever their groups are called."""
        candidates = self.session.scalars(
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .join(UserGroup, UserGroup.id == GroupMember.group_id)
            .join(GroupRight, GroupRight.group_id == UserGroup.id)
            .join(Acl, Acl.id == GroupRight.acl_id)
            .join(Module, Module.id == Acl.module_id)
            .where(
                UserGroup.context_id == context.id,
                Module.key == OSTIARY_MODULE,
                Acl.key == Right.REGISTRATIONS_MANAGE,
                GroupRight.value == "true",
                User.status == UserStatus.ACTIVE,
            )
            .distinct()
            .order_by(User.username)
        ).all()
        rights = self.runtime.rights
        return [
            user
            for user in candidates
            if rights.effective(self.session, user, context, OSTIARY_MODULE).allows(
                Right.REGISTRATIONS_MANAGE
            )
        ]

    def _tell_contact_persons(self, row: Registration, context: Context) -> None:
        admins = self._deciders(context)
        requester = f"{row.first_name or ''} {row.last_name or ''}".strip()
        # The console's page of the request, where the contact person decides it.
        link = f"{self.settings.issuer.rstrip('/')}/console/join-requests/{row.id}"
        for admin in admins:
            self.messages.send(
                "join-request",
                admin,
                {
                    "link": link,
                    "organization": context.name,
                    "requester": f"{requester} <{row.email}>",
                },
                channel=Channel.EMAIL,
                context=context,
            )
