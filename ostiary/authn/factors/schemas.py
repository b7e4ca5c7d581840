from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ostiary.users.models import TwoFactor


class PasskeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool


class AuthenticatorAppOut(BaseModel):
    enrolled: bool
    confirmed_at: datetime | None = None
    last_used_at: datetime | None = None


class FactorsOut(BaseModel):
    two_factor: TwoFactor = Field(description="The user's own setting (inherit: the instance's).")
    effective: TwoFactor = Field(description="The setting that applies.")
    code_channels: list[str] = Field(
        description="Channels a code goes by at the user's next login (none after the first "
        "login when codes are sent only then)."
    )
    authenticator_app: AuthenticatorAppOut
    recovery_codes_remaining: int
    passkeys: list[PasskeyOut]


class TotpEnrolmentOut(BaseModel):
    secret: str = Field(description="Base32, for apps that cannot scan the QR code.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an SVG QR code.")


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=6, max_length=10)


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown this once; only hashes are kept.")


class PasskeyRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
