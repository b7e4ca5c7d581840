"""E-mail over real SMTP conversations with an in-process server (aiosmtpd): plain, STARTTLS
with a self-signed certificate and AUTH, TLS from the start, and the server's refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from ostiary.messages.delivery import ConfigurationError, SmtpConfig
from ostiary.messages.models import Message, MessageState
from ostiary.messages.outbox import MessageWorker
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from tests.messages.servers import self_signed, smtp_server
from tests.messages.support import CODE, make_user


def send_code(
    runtime: Runtime, smtp_url: str, *, to: str | None = None, **settings: object
) -> Message:
    runtime.settings.smtp_url = SecretStr(smtp_url)
    runtime.settings.mail_from = "Ostiary <login@example.com>"
    runtime.settings.smtp_timeout_seconds = 10
    for name, value in settings.items():
        setattr(runtime.settings, name, value)
    with runtime.sessions() as session, session.atomic():
        user = make_user(
            runtime, session, "jane", email=to or "jane@example.com", first_name="Jane"
        )
        message = Messages(session, runtime).send("second-factor-code", user, CODE)
    MessageWorker(runtime).run_once()
    with runtime.sessions() as session:
        row = session.scalars(select(Message).where(Message.id == message.id)).one()
    return row


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def test_multipart_mail_over_plain_smtp(runtime: Runtime) -> None:
    with smtp_server() as (port, mailbox):
        row = send_code(runtime, f"smtp://127.0.0.1:{port}")
    assert row.state == MessageState.SENT and row.transport == "smtp"
    [mail] = mailbox.received
    assert mail.mail_from == "login@example.com" and mail.rcpt_tos == ["jane@example.com"]
    message = mail.message
    assert message["From"] == "Ostiary <login@example.com>"
    assert message["To"] == "jane@example.com"
    assert message["Subject"] == "Your sign-in code: 482913"
    assert message["Message-ID"] == f"<{row.id}@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert code_in(text.get_content()) == "482913"
    assert "Hello Jane," in text.get_content()
    assert "<strong" in html.get_content() and "482913" in html.get_content()
    assert not mail.tls and mail.login is None


def test_starttls_with_authentication(runtime: Runtime, tmp_path: Path) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(certificate=certificate, users={"mailer": "s3cret p@ss"}) as (port, mailbox):
        row = send_code(
            runtime,
            f"smtp://mailer:s3cret%20p%40ss@127.0.0.1:{port}?starttls=true",
            smtp_ca_file=certificate.cert,
        )
    assert row.state == MessageState.SENT, row.last_error
    [mail] = mailbox.received
    assert mail.tls and mail.login == "mailer"
    assert code_in(mail.message["Subject"]) == "482913"


def test_a_certificate_not_trusted_sends_nothing_and_is_retried(
    runtime: Runtime, tmp_path: Path
) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(certificate=certificate, users={"mailer": "pw"}) as (port, mailbox):
        row = send_code(runtime, f"smtp://mailer:pw@127.0.0.1:{port}?starttls=true")
    assert mailbox.received == []
    assert row.state == MessageState.PENDING and row.attempts == 1
    assert "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")


def test_wrong_password_is_retried(runtime: Runtime, tmp_path: Path) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(certificate=certificate, users={"mailer": "right"}) as (port, mailbox):
        row = send_code(
            runtime,
            f"smtp://mailer:wrong@127.0.0.1:{port}?starttls=true",
            smtp_ca_file=certificate.cert,
        )
    assert mailbox.received == [] and row.state == MessageState.PENDING
    assert (row.last_error or "").startswith("SMTP 535")


def test_plain_smtp_to_a_server_that_requires_starttls_is_refused(
    runtime: Runtime, tmp_path: Path
) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(certificate=certificate) as (port, mailbox):
        row = send_code(runtime, f"smtp://127.0.0.1:{port}")
    assert mailbox.received == [] and row.state == MessageState.PENDING


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls(runtime: Runtime, tmp_path: Path) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(certificate=certificate, implicit_tls=True, users={"u": "p"}) as (
        port,
        mailbox,
    ):
        row = send_code(runtime, f"smtps://u:p@127.0.0.1:{port}", smtp_ca_file=certificate.cert)
    assert row.state == MessageState.SENT, row.last_error
    [mail] = mailbox.received
    assert mail.login == "u"


def test_a_refused_recipient_fails_at_once(runtime: Runtime) -> None:
    with smtp_server() as (port, mailbox):
        mailbox.refuse.add("gone@example.com")
        row = send_code(runtime, f"smtp://127.0.0.1:{port}", to="gone@example.com")
    assert row.state == MessageState.FAILED and row.attempts == 1
    assert row.last_error == "recipient refused: 550 5.1.1 <g***@example.com>: no such user here"


def test_no_server_listening_is_retried(runtime: Runtime) -> None:
    from tests.messages.servers import free_port

    row = send_code(runtime, f"smtp://127.0.0.1:{free_port()}")
    assert row.state == MessageState.PENDING and "ConnectionRefusedError" in (row.last_error or "")


def test_smtp_urls() -> None:
    assert SmtpConfig.from_url("smtp://mail.example.com") == SmtpConfig(
        "mail.example.com", 25, "none"
    )
    assert SmtpConfig.from_url("smtp://a%40b:p%3Aw@mx:2525?starttls=true") == SmtpConfig(
        "mx", 2525, "starttls", "a@b", "p:w"
    )
    assert SmtpConfig.from_url("smtp://mx?starttls=1").port == 587
    assert SmtpConfig.from_url("smtps://mx").port == 465
    for bad in ("http://mx", "smtp://", "smtps://mx?starttls=true", "smtp://mx:99999"):
        with pytest.raises(ConfigurationError):
            SmtpConfig.from_url(bad)
