"""Message templates: customised ones in the database, shipped defaults in the package, and the
lookup that chooses between them (docs/messages.md, "Template lookup")."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput, NotFound, RuleViolation
from ostiary.messages.defaults import shipped, shipped_languages
from ostiary.messages.models import MessageTemplate
from ostiary.messages.purposes import PURPOSES, Channel, Purpose
from ostiary.messages.rendering import Rendered, Source, problems_of, render
from ostiary.text import Text

FALLBACK_LANGUAGE = "en"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")

Origin = Literal["context", "instance", "default"]


def normalise_language(value: str, *, field: str = "language") -> str:
    language = value.strip().lower().replace("_", "-")
    if not _LANGUAGE.match(language):
        raise InvalidInput([FieldProblem(field, "must be a language tag such as 'en' or 'de-ch'")])
    return language


def language_candidates(language: str | None, default: str) -> list[str]:
    """The languages to try, best first: ``de-ch``, ``de``, then the default, then English."""
    candidates: list[str] = []
    for tag in (language, default, FALLBACK_LANGUAGE):
        if not tag:
            continue
        parts = tag.strip().lower().replace("_", "-").split("-")
        for end in range(len(parts), 0, -1):
            candidate = "-".join(parts[:end])
            if candidate not in candidates:
                candidates.append(candidate)
    return candidates


def get_purpose(key: str) -> Purpose:
    purpose = PURPOSES.get(key)
    if purpose is None:
        raise NotFound(Text("no message purpose '{key}'", key=key), field="purpose")
    return purpose


def get_channel(value: str) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        channels = ", ".join(c.value for c in Channel)
        raise InvalidInput(
            [FieldProblem("channel", Text("must be one of {channels}", channels=channels))]
        ) from None


@dataclass(frozen=True)
class TemplateKey:
    purpose: Purpose
    language: str
    channel: Channel

    @classmethod
    def of(cls, purpose: str, language: str, channel: str) -> TemplateKey:
        return cls(get_purpose(purpose), normalise_language(language), get_channel(channel))


@dataclass(frozen=True)
class Resolved:
    """A template as found: its parts, where it came from and in which language."""

    key: TemplateKey
    source: Source
    origin: Origin
    context_id: uuid.UUID | None = None
    updated_at: datetime | None = None

    @classmethod
    def of_row(cls, key: TemplateKey, row: MessageTemplate) -> Resolved:
        source = Source(subject=row.subject, text=row.text, html=row.html)
        origin: Origin = "instance" if row.context_id is None else "context"
        return cls(key, source, origin, row.context_id, row.updated_at)


class MessageTemplates:
    def __init__(
        self, session: OstiarySession, actor: Actor | None = None, *, default_language: str = "en"
    ) -> None:
        self.session = session
        self.actor = actor or Actor.system()
        self.default_language = default_language
        self.audit = AuditLog(session)

    # -- reading --------------------------------------------------------------------------

    def find(self, key: TemplateKey, context_id: uuid.UUID | None) -> MessageTemplate | None:
        stmt = select(MessageTemplate).where(
            MessageTemplate.purpose == key.purpose.key,
            MessageTemplate.language == key.language,
            MessageTemplate.channel == key.channel,
        )
        if context_id is None:
            stmt = stmt.where(MessageTemplate.context_id.is_(None))
        else:
            stmt = stmt.where(MessageTemplate.context_id == context_id)
        return self.session.scalars(stmt).one_or_none()

    def at_level(self, key: TemplateKey, context: Context | None) -> Resolved:
        """The template of exactly this language and level: the customised one, or at the
        instance level the shipped default."""
        row = self.find(key, context.id if context else None)
        if row is not None:
            return Resolved.of_row(key, row)
        if context is None:
            source = shipped(key.purpose.key, key.language, key.channel)
            if source is not None:
                return Resolved(key, source, "default")
        where = f"context '{context.id}'" if context else "this instance"
        raise NotFound(
            Text(
                "no {channel} template for '{key}' in '{language}' at {where}",
                channel=key.channel,
                key=key.purpose.key,
                language=key.language,
                where=where,
            )
        )

    def resolve(
        self,
        purpose: Purpose,
        channel: Channel,
        language: str | None,
        context_id: uuid.UUID | None = None,
    ) -> Resolved:
        """The template a message uses: for each language, best first (the asked one, its
        base language, the instance default, English), the nearest context's customised
        template, then the instance's, then the shipped default."""
        candidates = language_candidates(language, self.default_language)
        chain = self._context_chain(context_id)
        levels: list[uuid.UUID | None] = [*chain, None]
        rows = self.session.scalars(
            select(MessageTemplate).where(
                MessageTemplate.purpose == purpose.key,
                MessageTemplate.channel == channel,
                MessageTemplate.language.in_(candidates),
            )
        ).all()
        found = {(row.language, row.context_id): row for row in rows}
        for candidate in candidates:
            key = TemplateKey(purpose, candidate, channel)
            for level in levels:
                row = found.get((candidate, level))
                if row is not None:
                    return Resolved.of_row(key, row)
            source = shipped(purpose.key, candidate, channel)
            if source is not None:
                return Resolved(key, source, "default")
        raise NotFound(
            Text("no {channel} template for '{key}'", channel=channel, key=purpose.key),
            field="channel",
        )

    def _context_chain(self, context_id: uuid.UUID | None) -> list[uuid.UUID]:
        """The context and its ancestors, nearest first."""
        if context_id is None:
            return []
        context = self.session.get(Context, context_id)
        if context is None:
            return []
        return list(reversed(context.ancestor_ids()))

    def list(
        self,
        context: Context | None,
        *,
        purpose: Purpose | None = None,
        language: str | None = None,
        channel: Channel | None = None,
    ) -> list[Resolved]:
        """The templates of one level: a context's customised ones; or the instance's, each
        customised one or else the shipped default."""
        stmt = select(MessageTemplate)
        if context is None:
            stmt = stmt.where(MessageTemplate.context_id.is_(None))
        else:
            stmt = stmt.where(MessageTemplate.context_id == context.id)
        if purpose is not None:
            stmt = stmt.where(MessageTemplate.purpose == purpose.key)
        if language is not None:
            stmt = stmt.where(MessageTemplate.language == language)
        if channel is not None:
            stmt = stmt.where(MessageTemplate.channel == channel)
        stored = {
            (row.purpose, row.language, row.channel): row for row in self.session.scalars(stmt)
        }
        found: dict[tuple[str, str, str], Resolved] = {}
        for (purpose_key, language_key, channel_key), row in stored.items():
            key = TemplateKey(PURPOSES[purpose_key], language_key, Channel(channel_key))
            found[(purpose_key, language_key, channel_key)] = Resolved.of_row(key, row)
        if context is None:
            purposes = [purpose] if purpose else list(PURPOSES.values())
            languages = [language] if language else list(shipped_languages())
            for each in purposes:
                for channel_key in each.channels:
                    if channel is not None and channel_key != channel:
                        continue
                    for language_key in languages:
                        index = (each.key, language_key, channel_key.value)
                        source = shipped(each.key, language_key, channel_key)
                        if index not in found and source is not None:
                            key = TemplateKey(each, language_key, channel_key)
                            found[index] = Resolved(key, source, "default")
        order = {key: i for i, key in enumerate(PURPOSES)}
        return sorted(
            found.values(),
            key=lambda r: (order[r.key.purpose.key], r.key.channel.value, r.key.language),
        )

    # -- changing -------------------------------------------------------------------------

    def put(
        self, key: TemplateKey, context: Context | None, source: Source
    ) -> tuple[Resolved, bool]:
        """Create or replace a customised template; refused unless it renders with the
        purpose's sample values. Returns the template and whether it is new."""
        self._check_level(context)
        problems = problems_of(key.purpose, key.channel, source)
        if problems:
            raise InvalidInput(problems)
        context_id = context.id if context else None
        with self.session.atomic():
            row = self.find(key, context_id)
            created = row is None
            if row is None:
                row = MessageTemplate(
                    purpose=key.purpose.key,
                    language=key.language,
                    channel=key.channel,
                    context_id=context_id,
                    text="",
                )
                self.session.add(row)
            changed = [
                part
                for part in ("subject", "text", "html")
                if getattr(row, part) != source.part(part)
            ]
            row.subject, row.text, row.html = source.subject, source.text, source.html
            self.session.flush()
            if created or changed:
                self.audit.record(
                    self.actor,
                    "message_template.created" if created else "message_template.updated",
                    target_type="message_template",
                    target_id=row.id,
                    context_id=context_id,
                    changes={**self._describe(key), "parts": changed},
                )
        return Resolved.of_row(key, row), created

    def delete(self, key: TemplateKey, context: Context | None) -> None:
        """Remove a customised template: the next level (or the default) applies again."""
        with self.session.atomic():
            row = self.find(key, context.id if context else None)
            if row is None:
                raise NotFound(
                    Text(
                        "no customised {channel} template for '{key}' in '{language}' here; shipped defaults cannot be deleted",
                        channel=key.channel,
                        key=key.purpose.key,
                        language=key.language,
                    )
                )
            self.session.delete(row)
            self.audit.record(
                self.actor,
                "message_template.deleted",
                target_type="message_template",
                target_id=row.id,
                context_id=row.context_id,
                changes=self._describe(key),
            )

    def preview(
        self,
        key: TemplateKey,
        context: Context | None,
        source: Source | None,
        variables: Mapping[str, object],
    ) -> tuple[Resolved, Rendered]:
        """Render a draft (or the template that applies) with the sample values, some of
        them replaced by ``variables``."""
        unknown = sorted(set(variables) - key.purpose.names)
        if unknown:
            raise InvalidInput(
                [
                    FieldProblem(f"variables.{name}", "not a variable of this purpose")
                    for name in unknown
                ]
            )
        if source is not None:
            problems = problems_of(key.purpose, key.channel, source)
            if problems:
                raise InvalidInput(problems)
            resolved = Resolved(key, source, "context" if context else "instance")
        else:
            if key.channel not in key.purpose.channels:
                raise InvalidInput(problems_of(key.purpose, key.channel, Source()))
            resolved = self.resolve(
                key.purpose, key.channel, key.language, context.id if context else None
            )
        values = {**key.purpose.samples(), **variables}
        return resolved, render(key.channel, resolved.source, values)

    def _check_level(self, context: Context | None) -> None:
        if context is not None and context.parent_id is None:
            raise RuleViolation(
                "the root context's templates are the instance templates: leave out the context",
                field="context",
            )

    @staticmethod
    def _describe(key: TemplateKey) -> dict[str, str]:
        return {"purpose": key.purpose.key, "language": key.language, "channel": key.channel}
