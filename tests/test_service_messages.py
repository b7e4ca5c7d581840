"""Messages of the services (``ostiary.text.Text``): English for the API, the page's language on
pages, and a German text for each one that a page can show."""

from __future__ import annotations

import ast
import functools
import pickle
import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.support import NullTranslations

from ostiary import text
from ostiary.errors import AlreadyExists, FieldProblem, InvalidInput
from ostiary.i18n import LOCALES, Translator
from ostiary.text import Text

PACKAGE = Path(__file__).parents[1] / "ostiary"
# Where a message never reaches a page: the REST API and SCIM speak to programs, the protocols
# answer with their own error codes, the command line and provisioning files are read by
# operators, and the rest are the server's own workings.
NOT_ON_PAGES = (
    "api/",
    "protocols/",
    "provisioning/",
    "keys/",
    "db/",
    "cli.py",
    "settings.py",
    "benchmark",
    "web/dev_outbox.py",
    "webhooks/standard_webhooks.py",
    "webhooks/delivery.py",
    "messages/delivery.py",
    "messages/outbox.py",
)
# Calls whose message argument is a service's message, by the position of that argument.
PROBLEMS = {"FieldProblem": 1, "RowProblem": 2, "problem": 1}
REFUSALS = frozenset(
    {
        "OstiaryError",
        "NotFound",
        "Conflict",
        "AlreadyExists",
        "InvalidTransition",
        "RuleViolation",
        "Unauthenticated",
        "Forbidden",
        "EscalationRefused",
        "VerificationFailed",
        "ReauthenticationRequired",
        "Throttled",
        "UnsupportedLogo",
        "LogoTooLarge",
        "FileTooLarge",
        "NotCsv",
        "LinkUnusable",
        "InvalidFile",
        "ValueError",
    }
)


def _german() -> Catalog:
    with (LOCALES / "de" / "LC_MESSAGES" / "ostiary.po").open("rb") as handle:
        return read_po(handle, locale="de")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


@functools.cache
def service_messages() -> dict[str, str]:
    """Every message template written in the code, with the first file that writes it: each
    ``Text(...)``, and the plain messages of problems and refusals where pages show them."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            if name == "Text":
                arguments = node.args[:1]
            elif where.startswith(NOT_ON_PAGES):
                continue
            elif name in PROBLEMS:
                arguments = node.args[PROBLEMS[name] : PROBLEMS[name] + 1]
            elif name in REFUSALS:
                arguments = node.args[:1]
            else:
                continue
            for argument in arguments:
                for template in _literals(argument):
                    found.setdefault(template, where)
    return found


def _literals(node: ast.expr) -> list[str]:
    """The strings an argument can be: a literal, or either literal of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def test_a_text_is_its_english_sentence() -> None:
    said = Text("'{part}' is not an IPv4 or IPv6 CIDR range", part="10.0.0.0/33")
    assert said == "'10.0.0.0/33' is not an IPv4 or IPv6 CIDR range"
    assert str(said) == said and type(str(said)) is str
    assert said.template == "'{part}' is not an IPv4 or IPv6 CIDR range"
    assert dict(said.values) == {"part": "10.0.0.0/33"}
    assert Text("braces {stay} as written") == "braces {stay} as written"
    copied = pickle.loads(pickle.dumps(said))
    assert copied == said and copied.template == said.template


def test_the_translator_fills_the_values_into_the_german_template() -> None:
    said = Text("the context already has a group named '{name}'", name="Sales {x}")
    assert Translator("de").text(said) == "der Kontext hat bereits eine Gruppe namens 'Sales {x}'"
    assert Translator("de")(said) == Translator("de").text(said)
    assert Translator("en").text(said) == "the context already has a group named 'Sales {x}'"
    assert Translator("de").text("is empty") == "ist leer"


def test_values_that_are_messages_are_translated_too() -> None:
    inner = ValueError(Text("'{part}' is not an IPv4 or IPv6 CIDR range", part="x"))
    line = Text("line {line}: {message}", line=3, message=text.of(inner))
    assert Translator("de").text(line) == "Zeile 3: 'x' ist kein IPv4- oder IPv6-CIDR-Bereich"
    assert line == "line 3: 'x' is not an IPv4 or IPv6 CIDR range"


def test_a_message_without_translation_or_with_a_broken_one_shows_in_english() -> None:
    unknown = Text("no such message {n}", n=3)
    assert Translator("de").text(unknown) == "no such message 3"

    class Renamed(NullTranslations):
        def gettext(self, message: str) -> str:
            return "der Benutzer hat kein {was}"

    german = Translator("de")
    german._translations = Renamed()
    assert german.text(Text("the user has no {what}", what="phone")) == "the user has no phone"


def test_errors_keep_the_english_detail_and_give_the_message() -> None:
    exc = AlreadyExists(Text("{field} is already taken", field="email"), field="email")
    assert exc.detail == "email is already taken" and str(exc) == "email is already taken"
    assert exc.text.template == "{field} is already taken"
    plain = InvalidInput([FieldProblem("name", "must not be empty")])
    assert plain.problems[0].text.template == "must not be empty"
    assert plain.detail == "name: must not be empty"
    assert plain.extensions()["errors"] == [{"field": "name", "message": "must not be empty"}]


def test_each_german_text_keeps_the_placeholders_of_its_english_one() -> None:
    wrong = {
        message.id: message.string
        for message in _german()
        if isinstance(message.id, str)
        and message.string
        and _placeholders(message.id) != _placeholders(str(message.string))
    }
    assert wrong == {}


def test_the_placeholder_check_catches_a_dropped_or_renamed_value() -> None:
    assert _placeholders("'{value}' is not a domain name") == {"value"}
    assert _placeholders("'{wert}' ist kein Domainname") != {"value"}
    assert _placeholders("kein Domainname") != {"value"}
    assert _placeholders("{ratio:.2f}:1 and {alg!r}") == {"ratio", "alg"}


def test_every_service_message_has_a_german_text() -> None:
    messages = service_messages()
    german = {m.id for m in _german() if m.string and not m.fuzzy}
    missing = {template: where for template, where in messages.items() if template not in german}
    assert len(messages) > 200
    assert missing == {}


def test_the_walk_finds_the_messages_that_pages_show() -> None:
    messages = service_messages()
    assert messages["'{part}' is not an IPv4 or IPv6 CIDR range"] == "access/values.py"
    assert "the context already has a group named '{name}'" in messages
    assert "{field} is already taken" in messages
    assert "must be yes or no (or empty)" in messages  # a CSV import row's problem
    assert "the content is not {media_type} but {found}" in messages  # one of two, chosen
    assert not any(where.startswith("api/") for where in messages.values())
