"""Rendering message templates: Jinja2 in a sandbox, every variable strict.

A template may use only the variables of its purpose; one that names another, or that fails to
render with the purpose's sample values, is refused when it is saved, not when it is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from ostiary.errors import FieldProblem
from ostiary.messages.purposes import Channel, Purpose
from ostiary.text import Text

# Autoescaping only for HTML; subject, text and SMS are plain text.
_PLAIN = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)

# The parts of each channel's message, and whether each is required.
PARTS: dict[Channel, dict[str, bool]] = {
    Channel.EMAIL: {"subject": True, "text": True, "html": False},
    Channel.SMS: {"text": True},
}


@dataclass(frozen=True)
class Source:
    """A template's parts as written."""

    subject: str | None = None
    text: str = ""
    html: str | None = None

    def part(self, name: str) -> str | None:
        value: str | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None


def _environment(part: str) -> SandboxedEnvironment:
    return _HTML if part == "html" else _PLAIN


@functools.lru_cache(maxsize=512)
def _compiled(part: str, source: str) -> Template:
    # Compiling is most of a message's cost; a batch of invitations renders one source
    # thousands of times. Compiled templates are immutable and safe to share between threads.
    return _environment(part).from_string(source)


def _render_part(part: str, source: str, variables: Mapping[str, object]) -> str:
    return _compiled(part, source).render(variables)


def _finish(part: str, value: str, channel: Channel) -> str:
    if part == "subject":
        # One header line: no line breaks, no runs of blanks.
        return " ".join(value.split())
    if channel is Channel.SMS:
        return value.strip()
    return value.strip() + "\n"


def problems_of(purpose: Purpose, channel: Channel, source: Source) -> list[FieldProblem]:
    """Everything wrong with a template, each named by its part; empty when it is fine."""
    problems: list[FieldProblem] = []
    if channel not in purpose.channels:
        allowed = ", ".join(purpose.channels)
        return [
            FieldProblem(
                "channel",
                Text("'{key}' is sent by {allowed} only", key=purpose.key, allowed=allowed),
            )
        ]
    parts = PARTS[channel]
    for name in ("subject", "text", "html"):
        value = source.part(name)
        if name not in parts:
            if value:
                problems.append(
                    FieldProblem(
                        name, Text("a {channel} message has no {name}", channel=channel, name=name)
                    )
                )
            continue
        if not value or not value.strip():
            if parts[name]:
                problems.append(FieldProblem(name, "must not be empty"))
            continue
        problem = _check_part(purpose, channel, name, value)
        if problem is not None:
            problems.append(problem)
    return problems


def _check_part(purpose: Purpose, channel: Channel, part: str, source: str) -> FieldProblem | None:
    environment = _environment(part)
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        return FieldProblem(
            part, Text("line {lineno}: {message}", lineno=exc.lineno, message=exc.message)
        )
    unknown = sorted(meta.find_undeclared_variables(tree) - purpose.names)
    if unknown:
        known = ", ".join(sorted(purpose.names))
        names = ", ".join(f"'{name}'" for name in unknown)
        return FieldProblem(
            part,
            Text(
                "unknown variable {names}; '{key}' provides: {known}",
                names=names,
                key=purpose.key,
                known=known,
            ),
        )
    try:
        value = _finish(part, _render_part(part, source, purpose.samples()), channel)
    except TemplateError as exc:
        return FieldProblem(
            part, Text("does not render with the sample values: {message}", message=exc.message)
        )
    except Exception as exc:  # a sandboxed template can still divide by zero and the like
        return FieldProblem(
            part, Text("does not render with the sample values: {message}", message=exc)
        )
    if not value.strip():
        return FieldProblem(part, "renders as nothing with the sample values")
    return None


def render(channel: Channel, source: Source, variables: Mapping[str, object]) -> Rendered:
    """Render a template that passed ``problems_of``."""
    parts = PARTS[channel]
    values: dict[str, str | None] = {}
    for name in ("subject", "text", "html"):
        value = source.part(name)
        if name in parts and value:
            values[name] = _finish(name, _render_part(name, value, variables), channel)
        else:
            values[name] = None
    return Rendered(values["subject"], values["text"] or "", values["html"])
