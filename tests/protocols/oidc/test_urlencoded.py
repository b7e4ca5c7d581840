"""Urlencoded bodies are read as the standard library reads them (``urlencoded.parse``)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from ostiary.protocols.oidc.urlencoded import TooManyFields, parse

BODIES = [
    "",
    "grant_type=client_credentials&scope=bench%3Aread",
    "scope=openid+profile&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fa%3D1%26b%3D2",
    "a+b=c+d&e%2Bf=g%2Bh",
    "token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "blank=&=nameless&bare&&trailing=1&",
    "x=1=2",
    "bad=%zz&half=%4&pct=%",
    "latin=%e9&utf8=%C3%A9&raw=é",
    "dup=1&dup=2",
]


@pytest.mark.parametrize("body", BODIES)
def test_a_body_reads_as_parse_qsl_reads_it(body: str) -> None:
    assert parse(body.encode(), max_fields=1000) == parse_qsl(
        body, keep_blank_values=True, max_num_fields=1000
    )


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(UnicodeDecodeError):
        parse(b"name=\xe9", max_fields=10)


def test_fields_beyond_the_limit_are_refused_as_parse_qsl_refuses_them() -> None:
    body = "&".join(f"f{i}=v" for i in range(11))
    with pytest.raises(ValueError):
        parse_qsl(body, keep_blank_values=True, max_num_fields=10)
    with pytest.raises(TooManyFields):
        parse(body.encode(), max_fields=10)
    assert len(parse(body.encode(), max_fields=11)) == 11
