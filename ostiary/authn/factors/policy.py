"""Which second factor a user must give at login, and what the session then says about it.

The 2FA setting of document 003: the instance chooses its channels (``OSTIARY_TWO_FACTOR``:
``disabled``, ``sms``, ``email`` or ``sms+email``); a user's own setting (``inherit`` by default)
overrides it, set by an administrator holding ``users.two_factor``. Codes go by every channel of
the effective setting. With ``OSTIARY_TWO_FACTOR_FIRST_LOGIN_ONLY`` codes are sent only while the
user has never signed in. Methods the user enrolled themselves (authenticator app, passkeys) are
asked at every login, whatever the setting.

Authentication method references (RFC 8176) in the session's ``amr``: ``pwd`` for the password,
``sms`` for a code by SMS, ``otp`` for a code by e-mail, an authenticator app or a recovery
code, ``hwk`` for a passkey, ``user`` when the passkey verified the user; ``mfa`` whenever more
than one factor was used (a passkey with user verification counts as two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select

from ostiary.authn.factors.models import Passkey, RecoveryCode, TotpCredential
from ostiary.db.session import OstiarySession
from ostiary.errors import RuleViolation
from ostiary.messages.delivery import delivery_mode
from ostiary.messages.purposes import Channel
from ostiary.settings import Settings
from ostiary.text import Text
from ostiary.users.models import TwoFactor, User

ACR_PASSWORD = "urn:ostiary:acr:password"
ACR_MFA = "urn:ostiary:acr:mfa"

PWD, OTP, SMS, HWK, USER, MFA = "pwd", "otp", "sms", "hwk", "user", "mfa"

CHANNELS: dict[TwoFactor, tuple[Channel, ...]] = {
    TwoFactor.DISABLED: (),
    TwoFactor.SMS: (Channel.SMS,),
    TwoFactor.EMAIL: (Channel.EMAIL,),
    TwoFactor.SMS_EMAIL: (Channel.SMS, Channel.EMAIL),
}


def effective_setting(user: User, settings: Settings) -> TwoFactor:
    own = TwoFactor(user.two_factor)
    return TwoFactor(settings.two_factor) if own is TwoFactor.INHERIT else own


def code_channels(user: User, settings: Settings) -> tuple[Channel, ...]:
    """The channels a code goes by at this login: none when the setting is disabled, or when
    codes are sent only at the first login and the user has signed in before."""
    channels = CHANNELS[effective_setting(user, settings)]
    if channels and settings.two_factor_first_login_only and user.first_login_at is not None:
        return ()
    return channels


def check_setting(value: TwoFactor, settings: Settings) -> None:
    """An administrator may choose a user's setting among what the instance can send."""
    missing = [c for c in CHANNELS.get(value, ()) if delivery_mode(settings, c) is None]
    if missing:
        what = " and ".join("SMS" if c is Channel.SMS else "e-mail" for c in missing)
        raise RuleViolation(
            Text(
                "this server cannot send codes by {what} (no gateway or SMTP server configured)",
                what=what,
            ),
            field="two_factor",
        )


@dataclass(frozen=True)
class Methods:
    """What the user can prove themselves with at the second factor."""

    channels: tuple[Channel, ...]
    totp: bool
    passkeys: int
    recovery_codes: int

    @property
    def required(self) -> bool:
        return bool(self.channels or self.totp or self.passkeys)

    @property
    def enrolled(self) -> bool:
        return self.totp or self.passkeys > 0


def _count(entity: Any, *criteria: Any) -> Any:
    return select(func.count()).select_from(entity).where(*criteria).scalar_subquery()


_METHODS = select(
    _count(
        TotpCredential,
        TotpCredential.user_id == bindparam("user_id"),
        TotpCredential.confirmed_at.is_not(None),
    ),
    _count(Passkey, Passkey.user_id == bindparam("user_id")),
    _count(
        RecoveryCode, RecoveryCode.user_id == bindparam("user_id"), RecoveryCode.used_at.is_(None)
    ),
)


def methods_of(session: OstiarySession, user: User, settings: Settings) -> Methods:
    # One statement for the three counts: this runs at every password login.
    totp, passkeys, recovery = session.execute(_METHODS, {"user_id": user.id}).one()
    return Methods(code_channels(user, settings), bool(totp), passkeys or 0, recovery or 0)


def amr_for(
    method: str, *, channels: tuple[Channel, ...] = (), user_verified: bool = False
) -> list[str]:
    """The ``amr`` of a login with the password and then ``method`` (code, totp, recovery,
    passkey), or with a passkey alone (``passwordless``)."""
    if method == "passwordless":
        return [HWK, USER, MFA] if user_verified else [HWK]
    if method == "code":
        used = [SMS] if Channel.SMS in channels else []
        if Channel.EMAIL in channels or not used:
            used.append(OTP)
        return [PWD, *used, MFA]
    if method == "passkey":
        return [PWD, HWK, MFA]
    return [PWD, OTP, MFA]


def acr_for(amr: list[str]) -> str | None:
    if MFA in amr:
        return ACR_MFA
    if amr == [PWD]:
        return ACR_PASSWORD
    return None
