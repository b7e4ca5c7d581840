"""The e-mail and phone checks that the user API and the import share give the library's
answers, also where they take their quicker path."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ostiary.users.schemas import check_email, check_phone

_LOCAL = st.text(alphabet="aZ09._+-!#$%&'*/=?^`{|}~@\" <>()\\,;:ñü\u0301", min_size=0, max_size=70)
_DOMAIN = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.COM",
            "sub.example.ch",
            "localhost",
            "example.test",
            "exa_mple.com",
            "-example.com",
            "example.com.",
            "1.2.3.4",
            "[1.2.3.4]",
            "bücher.de",
            "xn--bcher-kva.de",
            "a" * 64 + ".com",
            ("a" * 60 + ".") * 4 + "com",
            "",
            "b@example.com",
        ]
    ),
    st.text(alphabet="abc.-_@[]ü0", max_size=20),
)


def library(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return f"error: {exc}"


def ours(value: str) -> str:
    try:
        return check_email(value)
    except ValueError as exc:
        return f"error: {exc}"


@settings(max_examples=600, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, spaces=st.sampled_from(["", " ", "\t"]))
@example(local="Postmaster", domain="example.com", spaces="")
@example(local="a" * 65, domain="example.com", spaces="")
@example(local="a" * 64, domain=("b" * 60 + ".") * 3 + "com", spaces="")
@example(local="joe", domain="BÜCHER.de", spaces=" ")
@example(local='"quoted"', domain="example.com", spaces="")
@example(local="Joe <joe", domain="example.com>", spaces="")
def test_email_check_gives_the_libraries_answer(local: str, domain: str, spaces: str) -> None:
    value = f"{spaces}{local}@{domain}{spaces}"
    assert ours(value) == library(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ann.Berger@Example.COM", "Ann.Berger@example.com"),
        ("INFO@example.com", "info@example.com"),  # RFC 2142 mailbox names are lower-cased
        ("ann@bücher.de", "ann@bücher.de"),
        ("ann@xn--bcher-kva.de", "ann@bücher.de"),
    ],
)
def test_email_check_normalizes_as_the_library(value: str, expected: str) -> None:
    assert check_email(value) == expected


@pytest.mark.parametrize("value", ["ann@localhost", "ann@example", "ann@@example.com", "a@b@c.de"])
def test_email_check_refuses_what_the_library_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        check_email(value)


def test_a_repeated_phone_number_is_checked_once_with_the_same_answer() -> None:
    assert check_phone("+41 79 123 45 67") == check_phone("+41 79 123 45 67") == "+41791234567"
    for _ in range(2):
        with pytest.raises(ValueError, match="not a valid phone number"):
            check_phone("+4112")
