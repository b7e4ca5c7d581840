"""Sending a message for a purpose, in one call, and reading the outbox.

    Messages(session, runtime).send("second-factor-code", user, {"code": code, "minutes": 5},
                                    channel="sms")

queues the message in the caller's transaction: it is committed with the change that caused it,
and a change rolled back sends nothing. The worker of this process is woken when it commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select

from ostiary.audit.actor import Actor
from ostiary.branding.resolution import Brand, BrandingResolver
from ostiary.contexts.models import Context
from ostiary.db.paths import within_paths
from ostiary.db.session import OstiarySession
from ostiary.errors import NotFound, RuleViolation
from ostiary.messages.delivery import delivery_mode
from ostiary.messages.layout import TEXT_COLOUR, html_document, text_signature
from ostiary.messages.models import Message, MessageState
from ostiary.messages.purposes import Channel, Purpose, check_variables, purpose_of
from ostiary.messages.rendering import Rendered, render
from ostiary.messages.templates import MessageTemplates
from ostiary.runtime import Runtime
from ostiary.text import Text
from ostiary.users.models import User, UserStatus


def display_name(user: User) -> str:
    full = " ".join(part for part in (user.first_name, user.last_name) if part)
    return full or user.username


# What a deleted user's messages keep of the address they went to.
ERASED = "(erased)"


def forget_person(session: OstiarySession, user_id: uuid.UUID) -> None:
    """A deleted user's messages: what is still pending is never sent, and no message keeps
    their address or text (the local outbox's copies included)."""
    rows = session.scalars(select(Message).where(Message.user_id == user_id)).all()
    for row in rows:
        if row.state == MessageState.PENDING:
            row.state = MessageState.FAILED
            row.last_error = "the recipient was deleted"
            row.claimed_until = row.claim_token = None
        row.subject = row.text = row.html = None
        row.recipient = ERASED


class MessageService:
    """The outbox table: adding messages (in the caller's transaction) and reading them."""

    def __init__(self, session: OstiarySession) -> None:
        self.session = session

    def enqueue(
        self,
        *,
        purpose: str,
        channel: Channel,
        language: str,
        recipient: str,
        rendered: Rendered,
        user_id: uuid.UUID | None = None,
        context_id: uuid.UUID | None = None,
        sender_name: str | None = None,
    ) -> Message:
        """Add a pending message; it is sent once the caller's transaction commits."""
        message = Message(
            purpose=purpose,
            channel=channel,
            language=language,
            recipient=recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            user_id=user_id,
            context_id=context_id,
            sender_name=sender_name,
            state=MessageState.PENDING,
        )
        self.session.add(message)
        return message

    def get(self, message_id: uuid.UUID, visible_paths: Sequence[str] | None = None) -> Message:
        found = self.search(message_id=message_id, visible_paths=visible_paths, limit=1)
        if not found:
            raise NotFound(Text("no message with id '{message_id}'", message_id=message_id))
        return found[0]

    def search(
        self,
        *,
        message_id: uuid.UUID | None = None,
        state: str | None = None,
        purpose: str | None = None,
        channel: str | None = None,
        user_id: uuid.UUID | None = None,
        transport: str | None = None,
        before_id: uuid.UUID | None = None,
        visible_paths: Sequence[str] | None = None,
        limit: int = 50,
    ) -> Sequence[Message]:
        """Newest first. ``visible_paths`` limits to messages about contexts in those subtrees
        (None: every message)."""
        stmt = select(Message)
        filters: dict[str, Any] = {
            "id": message_id,
            "state": state,
            "purpose": purpose,
            "channel": channel,
            "user_id": user_id,
            "transport": transport,
        }
        for name, value in filters.items():
            if value is not None:
                stmt = stmt.where(getattr(Message, name) == value)
        if before_id is not None:
            stmt = stmt.where(Message.id < before_id)
        visible = within_paths(Context.path, visible_paths)
        if visible is not None:
            stmt = stmt.join(Context, Context.id == Message.context_id).where(visible)
        return self.session.scalars(stmt.order_by(Message.id.desc()).limit(limit)).all()


@dataclass(frozen=True)
class Recipient:
    address: str
    user: User | None


class Messages:
    """The one call other parts of Ostiary use to send a message for a purpose."""

    def __init__(
        self, session: OstiarySession, runtime: Runtime, actor: Actor | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.templates = MessageTemplates(
            session, actor, default_language=runtime.settings.default_language
        )

    def available(self, channel: Channel | str) -> bool:
        """Whether messages of this channel can leave (by transport or the local outbox)."""
        return delivery_mode(self.settings, Channel(channel)) is not None

    def send(
        self,
        purpose: str,
        to: User | str,
        variables: Mapping[str, object] | None = None,
        *,
        channel: Channel | str | None = None,
        language: str | None = None,
        context: Context | uuid.UUID | None = None,
        brand: Brand | None = None,
        address: str | None = None,
    ) -> Message:
        """Render the purpose's template for the recipient and queue the message.

        ``to`` is a user (their e-mail address or phone number is used, their language and
        name fill in) or a bare address. ``channel`` defaults to e-mail for users and to what
        the address looks like otherwise. ``language`` overrides the user's; the instance
        default applies when neither is known. ``context`` picks that context's templates
        (see the lookup in docs/messages.md). ``brand``: the branding of the flow that
        caused the message; else the context's, else the recipient's contexts' (see
        ``ostiary.branding.resolution``). ``address`` sends a user's message elsewhere than
        their profile says (a new address or number being verified). Every variable of the
        purpose must be given; the common ones (``name``, ``site_url``, ``brand_name``, ...)
        are filled in.
        """
        spec = self._purpose(purpose)
        given = dict(variables or {})
        check_variables(spec, given)
        chosen = self._channel(spec, to, channel)
        if not self.available(chosen):
            raise RuleViolation(
                Text("no way to send {chosen} messages is configured", chosen=chosen),
                field="channel",
            )
        recipient = self._recipient(to, chosen, address)
        user = recipient.user
        language = language or (user.language if user else None)
        context_id = context.id if isinstance(context, Context) else context
        resolved = self.templates.resolve(spec, chosen, language, context_id)
        brand = brand if brand is not None else self._brand(user, context_id)
        site_url = self.settings.issuer.rstrip("/")
        values: dict[str, object] = {
            "name": display_name(user) if user else recipient.address,
            "username": user.username if user else "",
            "site_url": site_url,
            **self._brand_variables(brand, site_url),
            **given,
        }
        rendered = self._dress(
            render(chosen, resolved.source, values), brand, resolved.key.language, chosen
        )
        with self.session.atomic():
            message = MessageService(self.session).enqueue(
                purpose=spec.key,
                channel=chosen,
                language=resolved.key.language,
                recipient=recipient.address,
                rendered=rendered,
                user_id=user.id if user else None,
                context_id=context_id,
                sender_name=brand.name,
            )
            self._wake_on_commit()
        return message

    def _brand(self, user: User | None, context_id: uuid.UUID | None) -> Brand:
        resolver = BrandingResolver(self.session)
        context = self.session.get(Context, context_id) if context_id else None
        if context is not None:
            return Brand.of(resolver.for_context(context))
        return Brand.of(resolver.for_user(user) if user else resolver.instance())

    def _brand_variables(self, brand: Brand, site_url: str) -> dict[str, str]:
        return {
            "brand_name": brand.name or "",
            "brand_logo_url": site_url + brand.logo_path if brand.logo_path else "",
            "brand_primary_color": brand.primary or TEXT_COLOUR,
            "brand_text_color": brand.on_primary or "#ffffff",
            "brand_accent_color": brand.accent or "#1a5fb4",
            "brand_support_url": brand.support_url or "",
        }

    def _dress(self, rendered: Rendered, brand: Brand, language: str, channel: Channel) -> Rendered:
        """The e-mail's parts in the branding: a signature in the text, the document with
        header and footer around the HTML."""
        if channel is not Channel.EMAIL:
            return rendered
        site_url = self.settings.issuer.rstrip("/")
        html = html_document(rendered.html, language, brand, site_url) if rendered.html else None
        return Rendered(rendered.subject, text_signature(rendered.text, brand, language), html)

    def _purpose(self, key: str) -> Purpose:
        spec = purpose_of(key)
        if spec is None:
            raise ValueError(Text("no message purpose '{key}'", key=key))
        return spec

    def _channel(self, purpose: Purpose, to: User | str, channel: Channel | str | None) -> Channel:
        if channel is not None:
            chosen = Channel(channel)
        elif isinstance(to, User):
            chosen = Channel.EMAIL
        else:
            chosen = Channel.EMAIL if "@" in to else Channel.SMS
        if chosen not in purpose.channels:
            raise ValueError(
                Text("'{key}' is not sent by {chosen}", key=purpose.key, chosen=chosen)
            )
        return chosen

    def _recipient(self, to: User | str, channel: Channel, address: str | None) -> Recipient:
        if not isinstance(to, User):
            address = to.strip()
            if not address:
                raise RuleViolation("no address to send to", field="to")
            return Recipient(address, None)
        if to.status == UserStatus.DELETED:
            raise RuleViolation("the user is deleted", field="to")
        address = address or (to.email if channel is Channel.EMAIL else to.phone)
        if not address:
            what = "e-mail address" if channel is Channel.EMAIL else "phone number"
            field = "email" if channel is Channel.EMAIL else "phone"
            raise RuleViolation(Text("the user has no {what}", what=what), field=field)
        return Recipient(address, to)

    def _wake_on_commit(self) -> None:
        """Wake this process's worker when the transaction commits; not when it rolls back."""
        info = self.session.info
        info[_QUEUED] = True
        if info.get(_LISTENING):
            return
        info[_LISTENING] = True
        wakeup = self.runtime.messages_due

        def committed(session: OstiarySession) -> None:
            if session.info.pop(_QUEUED, False):
                wakeup.set()

        def rolled_back(session: OstiarySession, *_: object) -> None:
            session.info.pop(_QUEUED, None)

        event.listen(self.session, "after_commit", committed)
        event.listen(self.session, "after_rollback", rolled_back)


_QUEUED = "messages_queued"
_LISTENING = "messages_listening"
