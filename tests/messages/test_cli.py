"""``ostiary messages send-pending`` and the messages settings in ``ostiary config``."""

from __future__ import annotations

import json
from pathlib import Path

from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from tests.messages.servers import smtp_server
from tests.messages.support import CODE
from tests.test_cli import run


def test_send_pending_sends_what_is_due_over_smtp(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", OSTIARY_BOOTSTRAP_ADMIN_PASSWORD="x" * 16).returncode == 0
    runtime = Runtime.from_settings(Settings(data_dir=tmp_path, message_worker=False))
    try:
        with runtime.sessions() as session, session.atomic():
            for to in ("a@example.com", "b@example.com"):
                Messages(session, runtime).send("second-factor-code", to, CODE)
    finally:
        runtime.close()
    with smtp_server() as (port, mailbox):
        env = {"OSTIARY_SMTP_URL": f"smtp://127.0.0.1:{port}"}
        first = run(tmp_path, "messages", "send-pending", "--limit", "1", **env)
        assert first.returncode == 0, first.stderr
        assert "sent 1, to retry 0, failed 0" in first.stdout
        rest = run(tmp_path, "messages", "send-pending", **env)
        assert "sent 1, to retry 0, failed 0" in rest.stdout
        again = run(tmp_path, "messages", "send-pending", **env)
        assert "sent 0, to retry 0, failed 0" in again.stdout
    assert sorted(r.rcpt_tos[0] for r in mailbox.received) == ["a@example.com", "b@example.com"]


def test_bad_settings_are_named(tmp_path: Path) -> None:
    result = run(tmp_path, "messages", "send-pending", OSTIARY_SMTP_URL="mail.example.com:25")
    assert result.returncode == 1 and "OSTIARY_SMTP_URL must look like" in result.stderr


def test_config_masks_the_messages_secrets(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "config",
        OSTIARY_SMTP_URL="smtp://mailer:very-secret@mail.example.com:587?starttls=true",
        OSTIARY_SMS_GATEWAY_PASSWORD="gateway-secret",
        OSTIARY_SMS_GATEWAY_HEADER="Authorization: Bearer token-secret",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["smtp_url"] == "smtp://mailer:***@mail.example.com:587?starttls=true"
    assert shown["sms_gateway_password"] == shown["sms_gateway_header"] == "********"
    for secret in ("very-secret", "gateway-secret", "token-secret"):
        assert secret not in result.stdout
