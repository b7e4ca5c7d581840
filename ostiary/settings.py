"""Configuration from ``OSTIARY_*`` environment variables and an optional TOML file."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
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
    smtp_url: SecretStr | None = None
    mail_from: str = "ostiary@localhost"
    sms_gateway_url: str | None = None
    dev_outbox: bool = True

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

    session_idle_minutes: int = Field(
        60, ge=1, description="A browser session unused this long ends."
    )
    session_absolute_hours: int = Field(
        12, ge=1, description="A browser session ends this long after login."
    )
    login_flow_minutes: int = Field(15, ge=1, description="Time to finish a login once begun.")
    authorization_code_seconds: int = Field(60, ge=10, le=600)

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
            if isinstance(value, SecretStr):
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
