"""A message of a service that a page can show in its own language.

``Text("'{value}' is not a domain name", value=value)`` is the English sentence (it is a
``str``, so the API, the logs and ``str()`` see exactly the English text), and it remembers
its template and values: a page looks the template up in its catalogue and fills in the values
after (``ostiary.i18n.Translator.text``). A plain ``str`` is a template without values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Text(str):
    """An English sentence made from a ``{name}`` template and its values."""

    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, /, **values: Any) -> Text:
        text = super().__new__(cls, template.format(**values) if values else template)
        text.template = template
        text.values = values
        return text

    def __repr__(self) -> str:
        return f"Text({self.template!r}, **{dict(self.values)!r})"


def of(message: str | BaseException) -> Text:
    """The message of a string (a template without values, unless it is a ``Text``) or of an
    error (``ValueError(Text(...))``), its template and values kept."""
    if isinstance(message, BaseException):
        said = message.args[0] if len(message.args) == 1 else None
        message = said if isinstance(said, Text) else str(message)
    return message if isinstance(message, Text) else Text(message)


def of_schema(error: Mapping[str, Any]) -> Text:
    """The message of one of pydantic's errors (``ValidationError.errors()``): the validator's
    ``Text`` where it raised one, else pydantic's own words."""
    raised = error.get("ctx", {}).get("error")
    if error.get("type") == "value_error" and isinstance(raised, ValueError):
        return of(raised)
    return Text(error["msg"].removeprefix("Value error, "))
