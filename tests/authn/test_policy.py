"""The password policy: length, the common-password list, names in the password."""

from __future__ import annotations

import pytest

from ostiary.authn.policy import (
    MAX_LENGTH,
    RULE_COMMON,
    RULE_EMAIL,
    RULE_MAX_LENGTH,
    RULE_MIN_LENGTH,
    RULE_USERNAME,
    PasswordPolicy,
    common_passwords,
)

policy = PasswordPolicy(min_length=12)


def rules(password: str, **names: str | None) -> list[str | None]:
    return [p.rule for p in policy.problems(password, field="password", **names)]


def test_the_shipped_list_holds_ten_thousand_passwords() -> None:
    listed = common_passwords()
    # Some entries differ only by case; compared case-insensitively they are one.
    assert 9_900 <= len(listed) <= 10_000
    assert {"password", "123456", "qwertyuiop", "iloveyou"} <= listed


@pytest.mark.parametrize(
    "password", ["1q2w3e4r5t6y", "QWERTY123456", "LeaveMeAlone", "qazwsxedcrfv"]
)
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert rules(password) == [RULE_COMMON]


def test_length_limits() -> None:
    assert rules("a" * 5 + "bcdefg") == [RULE_MIN_LENGTH]
    assert rules("correct horse") == []
    assert rules("x" * 64) == []  # NIST asks for at least 64; far more is accepted
    assert rules("y" * MAX_LENGTH) == []
    assert rules("z" * (MAX_LENGTH + 1)) == [RULE_MAX_LENGTH]
    assert PasswordPolicy(min_length=20).problems("only nineteen chars", field="p")


def test_no_composition_rules() -> None:
    assert rules("all lower case words here") == []
    assert rules("ЖжЖж пароль долгий") == []


def test_the_username_and_the_mail_name_may_not_be_part_of_it() -> None:
    assert rules("my name is Jeremy Bearimy", username="jeremy") == [RULE_USERNAME]
    assert rules("hello J.Bearimy forever", email="j.bearimy@example.com") == [RULE_EMAIL]
    assert rules("example.com is my home", email="jb@example.com") == []  # domains are not names
    assert rules("jo and joe are friends", username="jo", email="jo@x.org") == []  # too short
    # One problem, not two, when the address's name is the username.
    assert rules("call me jeremy please", username="jeremy", email="jeremy@x.org") == [
        RULE_USERNAME
    ]


def test_each_problem_names_the_field_and_the_rule() -> None:
    problems = policy.problems("password", field="new_password", username="pass")
    assert [(p.field, p.rule) for p in problems] == [
        ("new_password", RULE_MIN_LENGTH),
        ("new_password", RULE_COMMON),
        ("new_password", RULE_USERNAME),
    ]
    assert str(problems[0]) == "new_password: must be at least 12 characters long"
