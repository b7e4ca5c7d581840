"""Templates are checked when they are saved: syntax, variables, rendering with sample values."""

from __future__ import annotations

import pytest

from ostiary.messages.defaults import shipped, shipped_languages
from ostiary.messages.purposes import PURPOSES, Channel, check_variables
from ostiary.messages.rendering import Source, problems_of, render

CODE = PURPOSES["second-factor-code"]
RESET = PURPOSES["password-reset"]


def fields(problems: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {p.field: p.message for p in problems}


def test_every_purpose_and_channel_ships_in_english_and_german() -> None:
    assert {"en", "de"} <= set(shipped_languages())
    for language in shipped_languages():
        for purpose in PURPOSES.values():
            for channel in purpose.channels:
                source = shipped(purpose.key, language, channel)
                assert source is not None, (language, purpose.key, channel)
                assert problems_of(purpose, channel, source) == [], (language, purpose.key)
                if channel is Channel.EMAIL:
                    assert source.subject and source.html


def test_german_defaults_are_german() -> None:
    source = shipped("second-factor-code", "de", Channel.EMAIL)
    assert source is not None and source.subject is not None
    rendered = render(Channel.EMAIL, source, CODE.samples())
    assert rendered.subject == "Ihr Anmeldecode: 482913"
    assert "Guten Tag Jane Doe" in rendered.text


def test_unknown_variable_is_named_with_its_part() -> None:
    source = Source(
        subject="Code {{ code }}", text="Your code: {{ cod }}", html="<p>{{ code }}</p>"
    )
    problems = fields(problems_of(CODE, Channel.EMAIL, source))
    assert list(problems) == ["text"]
    assert "'cod'" in problems["text"] and "code" in problems["text"]


def test_unknown_variable_in_a_branch_never_taken_is_found_too() -> None:
    source = Source(text="{% if false %}{{ secret_thing }}{% endif %}{{ code }}")
    assert "secret_thing" in fields(problems_of(CODE, Channel.SMS, source))["text"]


def test_syntax_error_names_the_part_and_line() -> None:
    source = Source(subject="Hi", text="ok {{ code }}", html="<p>\n{% if code %}</p>")
    problems = fields(problems_of(CODE, Channel.EMAIL, source))
    assert list(problems) == ["html"] and problems["html"].startswith("line 2")


def test_render_errors_with_sample_values_are_caught() -> None:
    # StrictUndefined: an attribute the value does not have is an error, not an empty string.
    source = Source(text="{{ code.digits }} {{ minutes // 0 }}")
    assert "sample values" in fields(problems_of(CODE, Channel.SMS, source))["text"]


def test_the_sandbox_refuses_reaching_into_python() -> None:
    source = Source(text="{{ code.__class__.__mro__ }}")
    assert "text" in fields(problems_of(CODE, Channel.SMS, source))


def test_parts_of_each_channel() -> None:
    assert fields(problems_of(CODE, Channel.EMAIL, Source(text="{{ code }}"))) == {
        "subject": "must not be empty"
    }
    sms = fields(problems_of(CODE, Channel.SMS, Source(subject="x", text="{{ code }}", html="y")))
    assert set(sms) == {"subject", "html"}
    assert list(fields(problems_of(RESET, Channel.SMS, Source(text="{{ link }}")))) == ["channel"]
    assert fields(problems_of(CODE, Channel.SMS, Source(text="{# nothing #}"))) == {
        "text": "renders as nothing with the sample values"
    }


def test_html_is_escaped_and_text_is_not() -> None:
    source = Source(subject="{{ name }}", text="Hi {{ name }}", html="<p>Hi {{ name }}</p>")
    rendered = render(Channel.EMAIL, source, {**CODE.samples(), "name": "<b>Tom & Jerry</b>"})
    assert rendered.html == "<p>Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>\n"
    assert rendered.text == "Hi <b>Tom & Jerry</b>\n"


def test_subject_is_one_line() -> None:
    source = Source(subject="Code\n{{ code }}\r\n  now", text="{{ code }}")
    rendered = render(Channel.EMAIL, source, CODE.samples())
    assert rendered.subject == "Code 482913 now"


def test_senders_give_exactly_the_purposes_variables() -> None:
    check_variables(CODE, {"code": "1", "minutes": 5})
    check_variables(CODE, {"code": "1", "minutes": 5, "name": "Someone"})
    with pytest.raises(ValueError, match="missing minutes"):
        check_variables(CODE, {"code": "1"})
    with pytest.raises(ValueError, match="unknown link"):
        check_variables(CODE, {"code": "1", "minutes": 5, "link": "x"})
