"""Real peers of the profile tests: an SMTP server and an SMS gateway, and reading what
reached them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from ostiary.messages.outbox import MessageWorker
from ostiary.runtime import Runtime
from tests.messages.servers import GatewayLog, Mailbox, sms_gateway, smtp_server


@dataclass
class Peers:
    runtime: Runtime
    mailbox: Mailbox
    gateway: GatewayLog

    def deliver(self) -> None:
        MessageWorker(self.runtime).run_once()

    def mails_to(self, address: str) -> list[Any]:
        self.deliver()
        return [m for m in self.mailbox.received if address in m.rcpt_tos]

    def code_mailed_to(self, address: str) -> str:
        mails = self.mails_to(address)
        assert mails, f"nothing was mailed to {address}"
        body = mails[-1].message.get_body(("plain",)).get_content()
        return re.search(r"\b(\d{6})\b", body).group(1)  # type: ignore[union-attr]

    def link_mailed_to(self, address: str) -> str:
        body = self.mails_to(address)[-1].message.get_body(("plain",)).get_content()
        return re.search(r"(http\S+/account/verify-email\?token=\S+)", body).group(1)  # type: ignore[union-attr]

    def texts_to(self, number: str) -> list[str]:
        self.deliver()
        return [r["body"]["text"] for r in self.gateway.requests if r["body"]["to"] == number]

    def code_texted_to(self, number: str) -> str:
        texts = self.texts_to(number)
        assert texts, f"no SMS went to {number}"
        return re.search(r"\b(\d{6})\b", texts[-1]).group(1)  # type: ignore[union-attr]


@contextmanager
def real_peers(runtime: Runtime) -> Iterator[Peers]:
    """Mail goes over SMTP to an in-process server, SMS to a local HTTP gateway."""
    gateway = GatewayLog()
    with smtp_server() as (port, mailbox), sms_gateway(gateway) as url:
        runtime.settings.smtp_url = SecretStr(f"smtp://127.0.0.1:{port}")
        runtime.settings.sms_gateway_url = url
        yield Peers(runtime, mailbox, gateway)
