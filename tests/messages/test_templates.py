"""Which template a message uses: language fallbacks, and a context's own over the instance's
over the shipped default."""

from __future__ import annotations

import pytest

from ostiary.audit.actor import Actor
from ostiary.contexts.models import ContextType
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.errors import InvalidInput, RuleViolation
from ostiary.messages.purposes import PURPOSES, Channel
from ostiary.messages.rendering import Source
from ostiary.messages.templates import MessageTemplates, TemplateKey, language_candidates
from tests.messages.support import make_context

CODE = PURPOSES["second-factor-code"]


def key(language: str, channel: Channel = Channel.SMS) -> TemplateKey:
    return TemplateKey(CODE, language, channel)


def text_of(templates: MessageTemplates, language: str | None, context_id=None) -> str:  # type: ignore[no-untyped-def]
    return templates.resolve(CODE, Channel.SMS, language, context_id).source.text


def test_language_candidates() -> None:
    assert language_candidates("de-CH", "en") == ["de-ch", "de", "en"]
    assert language_candidates(None, "fr") == ["fr", "en"]
    assert language_candidates("pt_BR", "de") == ["pt-br", "pt", "de", "en"]


def test_language_falls_back_to_the_base_language_then_the_default(
    session: OstiarySession,
) -> None:
    templates = MessageTemplates(session)
    assert text_of(templates, "de-AT").startswith("{{ code }} ist Ihr Anmeldecode")
    assert text_of(templates, "fr").startswith("{{ code }} is your sign-in code")
    assert text_of(templates, None).startswith("{{ code }} is your sign-in code")
    resolved = templates.resolve(CODE, Channel.SMS, "fr")
    assert (resolved.key.language, resolved.origin) == ("en", "default")
    # An instance whose default language is German.
    german = MessageTemplates(session, default_language="de")
    assert german.resolve(CODE, Channel.SMS, None).key.language == "de"
    assert german.resolve(CODE, Channel.SMS, "fr").key.language == "de"


def test_customised_templates_come_before_the_defaults(session: OstiarySession) -> None:
    templates = MessageTemplates(session)
    templates.put(key("fr"), None, Source(text="{{ code }} est votre code."))
    assert text_of(templates, "fr-CH") == "{{ code }} est votre code."
    templates.put(key("de"), None, Source(text="Instanz: {{ code }}"))
    assert text_of(templates, "de-CH") == "Instanz: {{ code }}"

    account = make_context(session, "Acme", ContextType.ACCOUNT)
    customer = make_context(session, "Acme Shop", ContextType.CUSTOMER, account)
    templates.put(key("de"), account, Source(text="Acme: {{ code }}"))
    # The nearest context with a template of the language wins; others fall through.
    assert text_of(templates, "de", customer.id) == "Acme: {{ code }}"
    assert text_of(templates, "de", account.id) == "Acme: {{ code }}"
    assert text_of(templates, "de", None) == "Instanz: {{ code }}"
    templates.put(key("de"), customer, Source(text="Shop: {{ code }}"))
    assert text_of(templates, "de", customer.id) == "Shop: {{ code }}"
    assert text_of(templates, "de", account.id) == "Acme: {{ code }}"
    # Language comes first: an English-speaking user of the shop gets English (no template of
    # the shop's in English), and a French one the instance's French.
    assert text_of(templates, "en", customer.id).startswith("{{ code }} is your sign-in code")
    assert text_of(templates, "fr", customer.id) == "{{ code }} est votre code."

    templates.delete(key("de"), customer)
    assert text_of(templates, "de", customer.id) == "Acme: {{ code }}"
    templates.delete(key("de"), account)
    templates.delete(key("de"), None)
    assert text_of(templates, "de", customer.id).startswith("{{ code }} ist Ihr Anmeldecode")


def test_saving_checks_the_template(session: OstiarySession) -> None:
    templates = MessageTemplates(session)
    with pytest.raises(InvalidInput) as caught:
        templates.put(key("en", Channel.EMAIL), None, Source(subject="Hi", text="{{ pin }}"))
    assert caught.value.field == "text"
    assert templates.find(key("en", Channel.EMAIL), None) is None
    root = ContextService(session, Actor.system()).root()
    with pytest.raises(RuleViolation):
        templates.put(key("en"), root, Source(text="{{ code }}"))


def test_listing_the_instance_shows_defaults_and_customised(session: OstiarySession) -> None:
    templates = MessageTemplates(session)
    templates.put(key("de"), None, Source(text="Instanz: {{ code }}"))
    listed = templates.list(None, purpose=CODE)
    found = {(r.key.language, r.key.channel.value): r.origin for r in listed}
    assert found == {
        ("de", "email"): "default",
        ("de", "sms"): "instance",
        ("en", "email"): "default",
        ("en", "sms"): "default",
    }
    everything = templates.list(None)
    expected = sum(len(p.channels) for p in PURPOSES.values()) * 2
    assert len(everything) == expected
