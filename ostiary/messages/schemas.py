"""Message templates and the outbox as the admin API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ostiary.messages.models import Message
from ostiary.messages.outbox import mask_recipient
from ostiary.messages.purposes import Purpose
from ostiary.messages.rendering import Rendered, Source
from ostiary.messages.templates import Resolved


class VariableOut(BaseModel):
    name: str
    description: str
    sample: str | int


class PurposeOut(BaseModel):
    key: str
    description: str
    channels: list[str]
    variables: list[VariableOut] = Field(
        description="Every variable a template of this purpose may use, with its sample value"
    )

    @classmethod
    def of(cls, purpose: Purpose) -> PurposeOut:
        return cls(
            key=purpose.key,
            description=purpose.description,
            channels=[c.value for c in purpose.channels],
            variables=[
                VariableOut(name=v.name, description=v.description, sample=v.sample)
                for v in purpose.all_variables
            ],
        )


class TemplateParts(BaseModel):
    """A template as written (Jinja2). E-mail: subject, text and optionally HTML; SMS: text."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, max_length=500)
    text: str = Field(max_length=20_000)
    html: str | None = Field(None, max_length=200_000)

    def source(self) -> Source:
        return Source(subject=self.subject, text=self.text, html=self.html)


class MessageTemplateOut(BaseModel):
    purpose: str
    language: str
    channel: str
    context_id: uuid.UUID | None = Field(
        description="The context whose subtree it serves; null for the whole instance"
    )
    source: Literal["context", "instance", "default"] = Field(
        description="customised for a context, customised for the instance, or shipped"
    )
    subject: str | None
    text: str
    html: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, resolved: Resolved) -> MessageTemplateOut:
        return cls(
            purpose=resolved.key.purpose.key,
            language=resolved.key.language,
            channel=resolved.key.channel.value,
            context_id=resolved.context_id,
            source=resolved.origin,
            subject=resolved.source.subject,
            text=resolved.source.text,
            html=resolved.source.html,
            updated_at=resolved.updated_at,
        )


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: TemplateParts | None = Field(
        None, description="A draft to render; left out: the template that applies"
    )
    variables: dict[str, str | int] = Field(
        default_factory=dict, description="Values in place of the purpose's samples"
    )


class PreviewOut(BaseModel):
    purpose: str
    language: str
    channel: str
    source: Literal["context", "instance", "default"]
    subject: str | None
    text: str
    html: str | None

    @classmethod
    def of(cls, resolved: Resolved, rendered: Rendered) -> PreviewOut:
        return cls(
            purpose=resolved.key.purpose.key,
            language=resolved.key.language,
            channel=resolved.key.channel.value,
            source=resolved.origin,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
        )


class MessageOut(BaseModel):
    """A message in the outbox, without its content: bodies hold codes and links, and the
    address is shown masked."""

    id: uuid.UUID
    purpose: str
    channel: str
    language: str
    recipient: str = Field(description="Masked: j***@example.com, +41*******00")
    user_id: uuid.UUID | None
    context_id: uuid.UUID | None
    state: str = Field(description="pending, sent or failed")
    attempts: int
    transport: str | None = Field(description="smtp, sms-gateway or outbox, once sent")
    last_error: str | None
    created_at: datetime
    due_at: datetime | None = Field(description="When the next attempt is due (pending only)")
    sent_at: datetime | None
    failed_at: datetime | None

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            purpose=message.purpose,
            channel=message.channel,
            language=message.language,
            recipient=mask_recipient(message.recipient),
            user_id=message.user_id,
            context_id=message.context_id,
            state=message.state,
            attempts=message.attempts,
            transport=message.transport,
            last_error=message.last_error,
            created_at=message.created_at,
            due_at=message.due_at if message.state == "pending" else None,
            sent_at=message.sent_at,
            failed_at=message.failed_at,
        )
