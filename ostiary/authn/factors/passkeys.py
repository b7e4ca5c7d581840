"""Passkeys (WebAuthn Level 2/3) with ``webauthn`` (py_webauthn): registration from the account
page, authentication as a second factor after the password, and passwordless login.

- The relying party id is the issuer's host name, the expected origin the issuer's origin.
- Every ceremony's challenge is stored with what it is bound to (the login flow, or the browser
  session and its user), lives five minutes and is consumed by one conditional ``UPDATE``: an
  answer works once, only where its challenge was made.
- Passwordless login requires user verification (PIN or biometrics); as a second factor, user
  presence is enough. New passkeys are discoverable (resident) credentials.
- The signature counter must grow whenever the authenticator keeps one (the library refuses a
  counter that did not); the stored counter is updated only from the value it was read at, so
  two uses of one answer racing each other cannot both pass.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.models import Passkey, WebAuthnChallenge
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.users.models import DomainKind, User, UserStatus

CHALLENGE_LIFETIME = timedelta(minutes=5)
REGISTER, SECOND_FACTOR, PASSWORDLESS, REAUTH = (
    "register",
    "second-factor",
    "passwordless",
    "reauth",
)


class PasskeyError(Exception):
    """The answer does not prove what it should; the message is for logs, not for users."""


def lookup_key(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


@dataclass(frozen=True)
class Ceremony:
    challenge_id: uuid.UUID
    options: dict[str, Any]


@dataclass(frozen=True)
class Proof:
    user: User
    passkey: Passkey
    user_verified: bool


class PasskeyService:
    def __init__(self, session: OstiarySession, runtime: Runtime) -> None:
        self.session = session
        self.settings = runtime.settings
        issuer = urlsplit(runtime.settings.issuer)
        self.rp_id = issuer.hostname or "localhost"
        self.origin = f"{issuer.scheme}://{issuer.netloc}"
        self.audit = AuditLog(session)

    def of(self, user: User) -> list[Passkey]:
        return list(
            self.session.scalars(
                select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at)
            )
        )

    # -- registration ---------------------------------------------------------------------

    def registration_options(self, user: User, browser_session_id: uuid.UUID) -> Ceremony:
        existing = self.of(user)
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.settings.webauthn_rp_name,
            user_name=user.username,
            user_id=user.id.bytes,
            user_display_name=" ".join(p for p in (user.first_name, user.last_name) if p)
            or user.username,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[self._descriptor(p) for p in existing],
        )
        challenge = self._store(
            REGISTER, options.challenge, user_id=user.id, browser_session_id=browser_session_id
        )
        return Ceremony(challenge, json.loads(options_to_json(options)))

    def register(
        self,
        user: User,
        browser_session_id: uuid.UUID,
        challenge_id: uuid.UUID,
        credential: str,
        name: str,
        actor: Actor,
    ) -> Passkey:
        expected = self._consume(
            challenge_id, REGISTER, user_id=user.id, browser_session_id=browser_session_id
        )
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=expected,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
            )
        except (InvalidRegistrationResponse, InvalidJSONStructure, ValueError) as exc:
            raise PasskeyError(str(exc)) from None
        transports = _transports(credential)
        passkey = Passkey(
            user_id=user.id,
            lookup=lookup_key(verified.credential_id),
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=transports,
            aaguid=verified.aaguid,
            name=(name.strip() or "Passkey")[:100],
            backed_up=verified.credential_backed_up,
        )
        self.session.add(passkey)
        self.session.flush()
        self.audit.record(
            actor,
            "second_factor.passkey_registered",
            target_type="user",
            target_id=user.id,
            changes={"passkey": str(passkey.id), "name": passkey.name},
        )
        return passkey

    # -- authentication -------------------------------------------------------------------

    def authentication_options(
        self,
        purpose: str,
        *,
        user: User | None = None,
        flow_id: uuid.UUID | None = None,
        browser_session_id: uuid.UUID | None = None,
    ) -> Ceremony:
        allowed = [self._descriptor(p) for p in self.of(user)] if user is not None else []
        options = generate_authentication_options(
            rp_id=self.rp_id,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED
            if purpose == PASSWORDLESS
            else UserVerificationRequirement.PREFERRED,
        )
        challenge = self._store(
            purpose,
            options.challenge,
            user_id=user.id if user else None,
            flow_id=flow_id,
            browser_session_id=browser_session_id,
        )
        return Ceremony(challenge, json.loads(options_to_json(options)))

    def authenticate(
        self,
        purpose: str,
        challenge_id: uuid.UUID,
        credential: str,
        *,
        user: User | None = None,
        flow_id: uuid.UUID | None = None,
        browser_session_id: uuid.UUID | None = None,
    ) -> Proof:
        expected = self._consume(
            challenge_id,
            purpose,
            user_id=user.id if user else None,
            flow_id=flow_id,
            browser_session_id=browser_session_id,
        )
        try:
            raw = json.loads(credential)
            credential_id = base64url_to_bytes(raw["rawId"])
        except (ValueError, KeyError, TypeError):
            raise PasskeyError("the answer is not a WebAuthn credential") from None
        passkey = self.session.scalars(
            select(Passkey)
            .where(Passkey.lookup == lookup_key(credential_id))
            .execution_options(populate_existing=True)
        ).one_or_none()
        if passkey is None or passkey.credential_id != credential_id:
            raise PasskeyError("unknown credential")
        if user is not None and passkey.user_id != user.id:
            raise PasskeyError("the credential belongs to someone else")
        handle = (raw.get("response") or {}).get("userHandle")
        if handle and base64url_to_bytes(handle) != passkey.user_id.bytes:
            raise PasskeyError("the user handle does not match the credential")
        owner = self.session.get(User, passkey.user_id)
        if (
            owner is None
            or owner.status != UserStatus.ACTIVE
            or owner.domain.kind != DomainKind.LOCAL
            or owner.service_account
        ):
            raise PasskeyError("the credential's user cannot sign in")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=expected,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=purpose == PASSWORDLESS,
            )
        except (InvalidAuthenticationResponse, InvalidJSONStructure, ValueError) as exc:
            raise PasskeyError(str(exc)) from None
        counted = self.session.execute(
            update(Passkey)
            .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
            .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount != 1:  # type: ignore[attr-defined]
            raise PasskeyError("the credential was used at the same moment elsewhere")
        self.session.refresh(passkey)
        return Proof(owner, passkey, verified.user_verified)

    def rename(self, user: User, passkey_id: uuid.UUID, name: str) -> Passkey | None:
        passkey = self.session.get(Passkey, passkey_id)
        if passkey is None or passkey.user_id != user.id:
            return None
        passkey.name = (name.strip() or passkey.name)[:100]
        return passkey

    def remove(self, user: User, passkey_id: uuid.UUID, actor: Actor) -> bool:
        removed = self.session.execute(
            delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
        ).rowcount  # type: ignore[attr-defined]
        if removed:
            self.audit.record(
                actor,
                "second_factor.passkey_removed",
                target_type="user",
                target_id=user.id,
                changes={"passkey": str(passkey_id)},
            )
        return bool(removed)

    # -- challenges -----------------------------------------------------------------------

    def _store(
        self,
        purpose: str,
        challenge: bytes,
        *,
        user_id: uuid.UUID | None = None,
        flow_id: uuid.UUID | None = None,
        browser_session_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        now = utcnow()
        row = WebAuthnChallenge(
            purpose=purpose,
            challenge=bytes_to_base64url(challenge),
            user_id=user_id,
            flow_id=flow_id,
            browser_session_id=browser_session_id,
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def _consume(
        self,
        challenge_id: uuid.UUID,
        purpose: str,
        *,
        user_id: uuid.UUID | None = None,
        flow_id: uuid.UUID | None = None,
        browser_session_id: uuid.UUID | None = None,
    ) -> bytes:
        """The challenge, spent now; refused unless it was made for exactly this."""
        now = utcnow()
        bound = [
            WebAuthnChallenge.id == challenge_id,
            WebAuthnChallenge.purpose == purpose,
            WebAuthnChallenge.used_at.is_(None),
            WebAuthnChallenge.expires_at > now,
        ]
        for column, value in (
            (WebAuthnChallenge.user_id, user_id),
            (WebAuthnChallenge.flow_id, flow_id),
            (WebAuthnChallenge.browser_session_id, browser_session_id),
        ):
            bound.append(column.is_(None) if value is None else column == value)
        spent = self.session.execute(
            update(WebAuthnChallenge)
            .where(*bound)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise PasskeyError("the challenge is unknown, spent, expired or made for another use")
        challenge = self.session.scalar(
            select(WebAuthnChallenge.challenge).where(WebAuthnChallenge.id == challenge_id)
        )
        assert challenge is not None
        return base64url_to_bytes(challenge)

    @staticmethod
    def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
        transports = []
        for value in passkey.transports or []:
            try:
                transports.append(AuthenticatorTransport(value))
            except ValueError:
                continue
        return PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports)


def _transports(credential: str) -> list[str]:
    try:
        found = json.loads(credential).get("response", {}).get("transports") or []
    except (ValueError, AttributeError):
        return []
    return [str(t)[:32] for t in found if isinstance(t, str)][:8]
