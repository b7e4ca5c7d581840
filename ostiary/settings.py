"""Configuration from ``OSTIARY_*`` environment variables and an optional TOML file."""

from __future__ import annotations

import os
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SECRET_KEY_FILE = "ostiary-secret.key"


def _config_file() -> Path | None:
    explicit = os.environ.get("OSTIARY_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path("ostiary.toml")
    return default if default.exists() else None


class Settings(BaseSettings):
    """Every setting may come from the environment (``OSTIARY_<NAME>``) or from the TOML file
    named by ``OSTIARY_CONFIG`` (default ``./ostiary.toml``); the environment wins."""

    model_config = SettingsConfigDict(env_prefix="OSTIARY_", extra="ignore")

    data_dir: Path = Field(
        Path("."), description="Where the SQLite database and generated keys live."
    )
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    issuer: str = Field("http://127.0.0.1:8000", description="Public base URL of this server.")
    secret_key: SecretStr | None = Field(None, description="Encrypts keys and secrets at rest.")
    bootstrap_admin_username: str = "admin"
    bootstrap_admin_password: SecretStr | None = None
    bootstrap_admin_networks: str = Field(
        "127.0.0.1/32,::1/128", description="API IP Allow given to the first administrators."
    )
    # -- messages (docs/messages.md) ------------------------------------------------------
    smtp_url: SecretStr | None = Field(
        None, description="smtp://user:pass@host:port, smtps:// for TLS, ?starttls=true."
    )
    smtp_ca_file: Path | None = Field(
        None, description="PEM file of the CAs trusted for the SMTP server (default: system)."
    )
    smtp_timeout_seconds: float = Field(30, gt=0)
    mail_from: str = Field("ostiary@localhost", description="Sender of e-mail messages.")
    sms_gateway_url: str | None = Field(None, description="HTTP(S) URL messages are POSTed to.")
    sms_gateway_username: str | None = Field(None, description="HTTP Basic user for the gateway.")
    sms_gateway_password: SecretStr | None = None
    sms_gateway_header: SecretStr | None = Field(
        None, description="An authentication header for the gateway, 'Name: value'."
    )
    sms_gateway_body: str = Field(
        '{"to": "${to}", "text": "${text}"}',
        description="JSON body; ${to}, ${text}, ${sender} and ${message_id} are filled in.",
    )
    sms_sender: str = Field("", description="Sender id or number given to the gateway.")
    sms_gateway_timeout_seconds: float = Field(15, gt=0)
    dev_outbox: bool = Field(
        True, description="Channels without SMTP or gateway deliver to the local outbox."
    )
    default_language: str = Field("en", description="Language of messages by default.")
    branding_logo_max_bytes: int = Field(
        256 * 1024, ge=1024, le=5 * 1024 * 1024, description="Largest logo a branding may have."
    )
    message_worker: bool = Field(True, description="Send the outbox from each server process.")
    message_poll_seconds: float = Field(5, gt=0)
    message_lease_seconds: int = Field(300, ge=10, description="How long a send may take.")
    message_max_attempts: int = Field(8, ge=1)
    message_retry_seconds: float = Field(30, gt=0, description="First retry delay; doubles.")
    message_retry_max_seconds: float = Field(3600, gt=0)
    # -- webhooks (docs/webhooks.md) --------------------------------------------------------
    webhooks_worker: bool = Field(True, description="Send webhook deliveries from each process.")
    webhooks_poll_seconds: float = Field(5, gt=0)
    webhooks_timeout_seconds: float = Field(
        10, gt=0, le=60, description="How long a receiver may take to answer."
    )
    webhooks_lease_seconds: int = Field(
        120, ge=10, description="How long a worker holds a delivery it is sending."
    )
    webhooks_retry_seconds: float = Field(30, gt=0, description="First retry delay; doubles.")
    webhooks_retry_max_seconds: float = Field(3600, gt=0, description="Longest retry delay.")
    webhooks_retry_hours: float = Field(
        26, ge=24, description="How long a delivery is retried before it is given up."
    )
    webhooks_retention_days: float = Field(
        30, gt=0, description="How long settled deliveries and their payloads are kept."
    )
    webhooks_secret_overlap_hours: float = Field(
        24, ge=0, description="How long a rotated secret keeps signing beside the new one."
    )
    webhooks_allow_private_networks: bool = Field(
        False, description="Allow receivers at private and link-local addresses."
    )
    webhooks_allow_loopback: bool = Field(
        False, description="Allow receivers on this machine (loopback), over http too."
    )
    contract_grace_days: int = Field(
        14, ge=0, description="Days an account keeps access after its last contract ended."
    )
    contract_check_minutes: int = Field(
        60, ge=0, description="How often each server process checks contracts; 0: never."
    )

    password_min_length: int = Field(12, ge=8, le=64)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_cost_kib: int = Field(19456, ge=1024)
    argon2_parallelism: int = Field(1, ge=1)

    direct_user_rights: bool = Field(
        False, description="Evaluation step e3 (off as in the documents)."
    )
    forwarded_allow_ips: str = Field(
        "", description="Proxies whose X-Forwarded-For is trusted; empty trusts none."
    )
    setup_link_minutes: int = Field(60, ge=1)
    # -- invitations (docs/onboarding.md) --------------------------------------------------
    invitation_days: int = Field(
        7, ge=1, le=90, description="How long an invitation link works, unless it says."
    )
    invitation_batch_max: int = Field(
        10_000, ge=1, description="Most entries of one batch of invitations."
    )
    # -- registration (docs/onboarding.md) ---------------------------------------------------
    registration_parent: str = Field(
        "",
        description="Key of the context (the root or a tenant) under which organizations "
        "register themselves at /register; empty: registration is off.",
    )
    registration_approve_on_contract: bool = Field(
        False,
        description="Approve a pending registration as soon as a running contract for its "
        "number arrives from the CRM.",
    )
    join_by_email_domain: bool = Field(
        False,
        description="A person whose verified e-mail address is in one of an organization's "
        "e-mail domains joins it without waiting for approval.",
    )
    registration_unverified_hours: int = Field(
        24,
        ge=0,
        description="Hours past the lifetime of its code after which a registration whose "
        "e-mail address or phone number was never verified is deleted, with the draft account "
        "and the pending organization it made.",
    )
    registration_check_minutes: int = Field(
        60,
        ge=0,
        description="How often each server process deletes unverified registrations that "
        "expired; 0: never.",
    )
    import_sync_rows: int = Field(
        1000,
        ge=0,
        description="CSV imports over the API of at most this many rows are answered with "
        "their report; larger ones run as a job.",
    )
    # -- passwords and brute force (docs/authentication.md) --------------------------------
    password_reset_minutes: int = Field(
        30, ge=5, le=1440, description="How long a password reset link works."
    )
    throttle_account_failures: int = Field(
        5, ge=1, description="Failures for one account before each attempt must wait."
    )
    throttle_address_failures: int = Field(
        50, ge=1, description="Failures from one client address before each attempt must wait."
    )
    throttle_base_seconds: float = Field(
        2, gt=0, description="The first wait; it doubles with each further failure."
    )
    throttle_max_seconds: int = Field(900, ge=1, description="The longest wait.")
    throttle_window_minutes: int = Field(
        60, ge=1, description="Failures are forgotten after this long without another."
    )

    session_idle_minutes: int = Field(
        60, ge=1, description="A browser session unused this long ends."
    )
    session_absolute_hours: int = Field(
        12, ge=1, description="A browser session ends this long after login."
    )
    login_flow_minutes: int = Field(15, ge=1, description="Time to finish a login once begun.")
    # -- second factor (docs/authentication.md) -------------------------------------------
    two_factor: Literal["disabled", "sms", "email", "sms+email"] = Field(
        "disabled",
        description="The instance's 2FA channels, for users whose own setting is 'inherit'.",
    )
    two_factor_first_login_only: bool = Field(
        False, description="Send codes by SMS or e-mail only at a user's first login."
    )
    two_factor_code_length: int = Field(6, ge=6, le=10, description="Digits of a code.")
    two_factor_code_minutes: int = Field(5, ge=1, le=10, description="Lifetime of a code.")
    two_factor_code_tries: int = Field(5, ge=1, le=10, description="Wrong entries per code.")
    two_factor_user_tries: int = Field(
        10, ge=1, description="Wrong second-factor entries per user within the window."
    )
    two_factor_window_minutes: int = Field(15, ge=1, description="Window of the limits.")
    two_factor_sends_per_user: int = Field(
        5, ge=1, description="Codes sent to one user within the window."
    )
    two_factor_sends_per_address: int = Field(
        5, ge=1, description="Codes sent to one phone number or e-mail address within the window."
    )
    two_factor_resend_seconds: int = Field(30, ge=0, description="Wait before a new code.")
    two_factor_sms_pattern: str = Field(
        "", description="Phone numbers must match this regular expression to get codes by SMS."
    )
    step_up_minutes: int = Field(
        5, ge=1, description="How recent a sign-in must be to change a factor without asking."
    )
    verification_minutes: int = Field(
        15,
        ge=1,
        le=1440,
        description="How long the code or link that confirms a new e-mail address or phone "
        "number works.",
    )
    webauthn_rp_name: str = Field("Ostiary", description="The name passkeys are saved under.")
    authorization_code_seconds: int = Field(60, ge=10, le=600)

    @field_validator("two_factor_sms_pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _check_webhook_lease(self) -> Settings:
        if self.webhooks_lease_seconds <= self.webhooks_timeout_seconds:
            raise ValueError(
                "webhooks_lease_seconds must be longer than webhooks_timeout_seconds, or a "
                "delivery still being sent could be taken by another worker"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ostiary.db').resolve()}"

    @cached_property
    def effective_secret_key(self) -> bytes:
        """The configured key, or one generated once into the data directory."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / SECRET_KEY_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    def masked(self) -> dict[str, Any]:
        """The effective configuration with secrets masked, for ``ostiary config``."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "smtp_url" and value is not None:
                value = _mask_url_password(value.get_secret_value())
            elif isinstance(value, SecretStr):
                value = "********"
            elif name == "database_url":
                value = _mask_url_password(self.effective_database_url)
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown


def _mask_url_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
