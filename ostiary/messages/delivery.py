"""Delivery: e-mail over SMTP, SMS through an HTTP gateway, or the local development outbox.

A transport either returns (the message is handed over) or raises ``DeliveryError``, which
says whether trying again later may help.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2 as httpx

from ostiary.messages.layout import html_document
from ostiary.messages.purposes import Channel
from ostiary.settings import Settings

logger = logging.getLogger("ostiary.messages")

Mode = Literal["smtp", "sms-gateway", "outbox"]


class DeliveryError(Exception):
    """A send that did not happen. ``permanent``: the same message will never go through
    (the server refused the recipient or the content); otherwise it is tried again."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ConfigurationError(ValueError):
    """A messages setting that cannot work."""


@dataclass(frozen=True)
class Outgoing:
    """A message as a transport sees it."""

    id: uuid.UUID
    purpose: str
    channel: Channel
    language: str
    recipient: str
    subject: str | None
    text: str
    html: str | None
    # The display name of the sender (the branding's), or None for the configured sender.
    sender_name: str | None = None


class Transport(Protocol):
    name: Mode

    def send(self, message: Outgoing) -> None: ...


# -- e-mail -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Literal["none", "starttls", "tls"]
    username: str | None = None
    password: str | None = None
    timeout: float = 30
    ca_file: Path | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 30, ca_file: Path | None = None) -> SmtpConfig:
        """``smtp://user:pass@host:port``; ``smtps://`` for TLS from the start; ``?starttls=true``
        to upgrade a plain connection (then refused if the server cannot)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                "OSTIARY_SMTP_URL must look like smtp://user:pass@host:port or smtps://host"
            )
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        starttls = query.get("starttls", "false") in ("1", "true", "yes", "on")
        if parts.scheme == "smtps" and starttls:
            raise ConfigurationError("OSTIARY_SMTP_URL: smtps:// is TLS already; no starttls")
        security: Literal["none", "starttls", "tls"] = (
            "tls" if parts.scheme == "smtps" else "starttls" if starttls else "none"
        )
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError("OSTIARY_SMTP_URL has an invalid port") from None
        default_port = {"tls": 465, "starttls": 587, "none": 25}[security]
        return cls(
            host=parts.hostname,
            port=port or default_port,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
            ca_file=ca_file,
        )


def _sender_domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rpartition("@")[2] or "localhost"


class SmtpMailer:
    """Multipart (text and HTML) e-mail with the standard library's smtplib."""

    name: Mode = "smtp"

    def __init__(self, config: SmtpConfig, sender: str) -> None:
        self.config = config
        self.sender = sender

    def compose(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender_for(message)
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=False, usegmt=True)
        # The outbox id: a message sent twice (see docs/messages.md) is recognisable.
        email["Message-ID"] = f"<{message.id}@{_sender_domain(self.sender)}>"
        email["Content-Language"] = message.language
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.text)
        if message.html:
            email.add_alternative(html_document(message.html, message.language), subtype="html")
        return email

    def sender_for(self, message: Outgoing) -> str:
        """The configured sender, under the display name of the message's branding."""
        if not message.sender_name:
            return self.sender
        _, address = parseaddr(self.sender)
        return formataddr((message.sender_name, address or self.sender))

    def _tls(self) -> ssl.SSLContext:
        cafile = str(self.config.ca_file) if self.config.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def send(self, message: Outgoing) -> None:
        config = self.config
        email = self.compose(message)
        try:
            if config.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=self._tls()
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            try:
                if config.security == "starttls":
                    smtp.starttls(context=self._tls())
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(email)
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(500 <= code < 600 for code in codes)
            raise DeliveryError(
                f"recipient refused: {_smtp_reasons(exc.recipients)}", permanent=permanent
            ) from None
        except smtplib.SMTPDataError as exc:
            raise DeliveryError(
                f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=500 <= exc.smtp_code < 600,
            ) from None
        except smtplib.SMTPResponseException as exc:
            # Sender refused, authentication failed and the like: the setup, not the message.
            raise DeliveryError(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None
        # The server has accepted the message: whatever goes wrong from here on must not make
        # it count as unsent (it would be sent again).
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _smtp_reasons(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{code} {_text(reason)}" for code, reason in recipients.values())


# -- SMS ----------------------------------------------------------------------------------


class SmsGateway(Protocol):
    """Hands one SMS to a provider. Implement it to plug in another provider's API."""

    def send_sms(self, to: str, text: str, *, message_id: str) -> None: ...


BODY_FIELDS = ("to", "text", "sender", "message_id")


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return string.Template(value).substitute(values)
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


class HttpSmsGateway:
    """A generic HTTP gateway: POST of a JSON body built from a template whose strings may hold
    ``${to}``, ``${text}``, ``${sender}`` and ``${message_id}``; HTTP Basic or a header for
    authentication. Any 2xx answer is success."""

    def __init__(
        self,
        url: str,
        *,
        body: str = '{"to": "${to}", "text": "${text}"}',
        sender: str = "",
        username: str | None = None,
        password: str | None = None,
        header: str | None = None,
        timeout: float = 15,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigurationError("OSTIARY_SMS_GATEWAY_URL must be an http(s) URL")
        try:
            self.body = json.loads(body)
            _fill(self.body, {name: "" for name in BODY_FIELDS})
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"OSTIARY_SMS_GATEWAY_BODY is not JSON: {exc}") from None
        except (KeyError, ValueError) as exc:
            raise ConfigurationError(
                f"OSTIARY_SMS_GATEWAY_BODY: unknown placeholder {exc}; "
                f"known: {', '.join('${' + name + '}' for name in BODY_FIELDS)}"
            ) from None
        self.url = url
        self.sender = sender
        self.headers: dict[str, str] = {}
        if header:
            name, sep, value = header.partition(":")
            if not sep or not name.strip():
                raise ConfigurationError("OSTIARY_SMS_GATEWAY_HEADER must be 'Name: value'")
            self.headers[name.strip()] = value.strip()
        self.auth = httpx.BasicAuth(username, password or "") if username else None
        self.timeout = timeout
        self.transport = transport

    def send_sms(self, to: str, text: str, *, message_id: str) -> None:
        values = {"to": to, "text": text, "sender": self.sender, "message_id": message_id}
        headers = {**self.headers, "Idempotency-Key": message_id}
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(
                    self.url, json=_fill(self.body, values), headers=headers, auth=self.auth
                )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway: {type(exc).__name__}: {exc}") from None
        if response.is_success:
            return
        status = response.status_code
        detail = response.text[:200].strip()
        # A 4xx answer refuses this message for good, but for those that ask to come back.
        permanent = 400 <= status < 500 and status not in (401, 403, 408, 425, 429)
        raise DeliveryError(f"SMS gateway answered {status}: {detail}", permanent=permanent)


class SmsTransport:
    name: Mode = "sms-gateway"

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    def send(self, message: Outgoing) -> None:
        self.gateway.send_sms(message.recipient, message.text, message_id=str(message.id))


# -- the local development outbox ---------------------------------------------------------


class LocalOutbox:
    """Delivers nowhere: the message stays readable in the database (``/dev/outbox``) and is
    written to the log."""

    name: Mode = "outbox"

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url.rstrip("/")

    def send(self, message: Outgoing) -> None:
        what = f"subject {message.subject!r}" if message.subject else f"text {message.text!r}"
        logger.info(
            "outbox: %s %s to %s, %s (read it at %s/dev/outbox/%s)",
            message.purpose,
            message.channel,
            message.recipient,
            what,
            self.base_url,
            message.id,
        )


# -- choosing -----------------------------------------------------------------------------


def delivery_mode(settings: Settings, channel: Channel) -> Mode | None:
    """How messages of a channel leave: by their transport, to the local outbox, or not at all."""
    configured = settings.smtp_url if channel is Channel.EMAIL else settings.sms_gateway_url
    if configured:
        return "smtp" if channel is Channel.EMAIL else "sms-gateway"
    return "outbox" if settings.dev_outbox else None


class Delivery:
    """The transport of each channel."""

    def __init__(self, transports: Mapping[Channel, Transport]) -> None:
        self.transports = dict(transports)

    def transport_for(self, channel: Channel) -> Transport | None:
        return self.transports.get(channel)

    @classmethod
    def from_settings(cls, settings: Settings) -> Delivery:
        transports: dict[Channel, Transport] = {}
        outbox = LocalOutbox(settings.issuer)
        for channel in Channel:
            mode = delivery_mode(settings, channel)
            if mode == "outbox":
                transports[channel] = outbox
            elif mode == "smtp":
                assert settings.smtp_url is not None
                config = SmtpConfig.from_url(
                    settings.smtp_url.get_secret_value(),
                    timeout=settings.smtp_timeout_seconds,
                    ca_file=settings.smtp_ca_file,
                )
                transports[channel] = SmtpMailer(config, settings.mail_from)
            elif mode == "sms-gateway":
                assert settings.sms_gateway_url is not None
                password = settings.sms_gateway_password
                header = settings.sms_gateway_header
                gateway = HttpSmsGateway(
                    settings.sms_gateway_url,
                    body=settings.sms_gateway_body,
                    sender=settings.sms_sender,
                    username=settings.sms_gateway_username,
                    password=password.get_secret_value() if password else None,
                    header=header.get_secret_value() if header else None,
                    timeout=settings.sms_gateway_timeout_seconds,
                )
                transports[channel] = SmsTransport(gateway)
        return cls(transports)
