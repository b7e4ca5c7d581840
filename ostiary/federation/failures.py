"""A federated login that failed: the person is told only that it did; why (often the upstream's
own technical words) goes to the server log and, for a registered provider, to the audit log,
where an operator finds it."""

from __future__ import annotations

import logging

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession
from ostiary.federation.models import IdentityProvider

log = logging.getLogger(__name__)
FEDERATED_LOGIN_FAILED = "login.federated_failed"
# Reasons can quote the upstream's answers: bounded, so a hostile upstream cannot bloat the log.
MAX_REASON = 500


def record_failure(
    session: OstiarySession,
    key: str,
    provider: IdentityProvider | None,
    reason: str,
    client_address: str | None,
) -> None:
    """In a transaction of its own (or the caller's, if one is open). An unknown ``key`` is
    only logged: anyone can type one into the address bar."""
    reason = reason[:MAX_REASON]
    log.warning("federated login through %r failed: %s", key[:100], reason)
    if provider is None:
        return
    with session.atomic():
        AuditLog(session).record(
            Actor(f"federation:{provider.key}", "web", None, client_address),
            FEDERATED_LOGIN_FAILED,
            target_type="identity_provider",
            target_id=provider.id,
            changes={"provider": provider.key, "reason": reason},
        )
