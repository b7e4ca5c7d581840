"""Browser sessions kept on the server; the cookie carries only a random token."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.policy import acr_for
from ostiary.authn.models import BrowserSession
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.protocols.oidc.models import Grant
from ostiary.settings import Settings
from ostiary.users.models import User, UserStatus

# Writing last_seen_at on every request would turn each page view into a write.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CookiePolicy:
    name: str
    secure: bool

    @classmethod
    def for_issuer(cls, issuer: str) -> CookiePolicy:
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only
        # and for the whole path, which is what we want over https.
        secure = issuer.startswith("https://")
        return cls("__Host-ostiary_session" if secure else "ostiary_session", secure)


class SessionService:
    def __init__(self, session: OstiarySession, settings: Settings) -> None:
        self.session = session
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.absolute = timedelta(hours=settings.session_absolute_hours)
        self.audit = AuditLog(session)

    def start(
        self,
        user: User,
        *,
        amr: list[str],
        actor: Actor,
        previous: str | None = None,
        user_agent: str | None = None,
        external_roles: Sequence[str] = (),
    ) -> tuple[BrowserSession, str]:
        """A new session (and a new id, always) for a successful login; an earlier session of
        the same browser ends. The actor's address and ``user_agent`` are kept for the user's
        list of their sessions; ``external_roles`` (a federated login's upstream roles) for the
        user's rights while the session lasts."""
        if previous:
            old = self._by_token(previous)
            if old is not None:
                self._end(old, "replaced")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        # Its id is known at once: the audit event names it without a flush.
        browser = BrowserSession(
            id=uuid7(),
            token_hash=_hash(token),
            user_id=user.id,
            security_stamp=user.security_stamp,
            auth_time=now,
            amr=amr,
            acr=acr_for(amr),
            external_roles=sorted(set(external_roles)),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute,
            client_address=(actor.client_address or "")[:64] or None,
            user_agent=(user_agent or "")[:400] or None,
        )
        self.session.add(browser)
        first_login = user.first_login_at is None
        user.last_login_at = now
        if first_login:
            user.first_login_at = now
        self.audit.record(
            actor,
            "session.started",
            target_type="user",
            target_id=user.id,
            changes={"session": str(browser.id), "amr": amr}
            | ({"external_roles": browser.external_roles} if browser.external_roles else {}),
        )
        return browser, token

    def resolve(self, token: str | None, *, now: datetime | None = None) -> BrowserSession | None:
        """The live session for a cookie, or None: ended, expired, idle too long, or its user
        can no longer sign in (status or security stamp changed)."""
        if not token:
            return None
        browser = self._by_token(token)
        if browser is None:
            return None
        return browser if self.alive(browser, now=now) else None

    def alive(self, browser: BrowserSession, *, now: datetime | None = None) -> bool:
        now = now or utcnow()
        if (
            browser.ended_at is not None
            or browser.expires_at <= now
            or browser.last_seen_at + self.idle <= now
        ):
            return False
        user = self.session.get(User, browser.user_id)
        return (
            user is not None
            and user.status == UserStatus.ACTIVE
            and user.security_stamp == browser.security_stamp
        )

    def touch(self, browser: BrowserSession) -> None:
        now = utcnow()
        if now - browser.last_seen_at >= TOUCH_EVERY:
            browser.last_seen_at = now

    def end(self, browser: BrowserSession, actor: Actor) -> None:
        self._end(browser, "logout")
        self.audit.record(
            actor,
            "session.ended",
            target_type="user",
            target_id=browser.user_id,
            changes={"session": str(browser.id)},
        )

    def of_user(self, user: User) -> list[BrowserSession]:
        """The user's live sessions, the most recently used first."""
        now = utcnow()
        found = self.session.scalars(
            select(BrowserSession)
            .where(
                BrowserSession.user_id == user.id,
                BrowserSession.ended_at.is_(None),
                BrowserSession.expires_at > now,
            )
            .order_by(BrowserSession.last_seen_at.desc(), BrowserSession.id)
        ).all()
        return [browser for browser in found if self.alive(browser, now=now)]

    def end_own(self, user: User, session_id: uuid.UUID, actor: Actor) -> bool:
        """The user ends one of their sessions, and the OAuth grants standing on it are
        revoked; False when it is not a live session of theirs."""
        with self.session.atomic():
            browser = self.session.get(BrowserSession, session_id)
            if browser is None or browser.user_id != user.id or not self.alive(browser):
                return False
            self._end(browser, "logout")
            revoke_grants(self.session, user, session_ids=[browser.id], reason="session ended")
            self.audit.record(
                actor,
                "session.ended",
                target_type="user",
                target_id=user.id,
                changes={"session": str(browser.id)},
            )
        return True

    def end_everywhere(self, user: User, actor: Actor) -> int:
        """Log out everywhere: every session of the user ends, this one too, and every OAuth
        grant of the user is revoked (its tokens stop working). Returns how many
        sessions ended."""
        with self.session.atomic():
            ended = self.session.execute(
                update(BrowserSession)
                .where(BrowserSession.user_id == user.id, BrowserSession.ended_at.is_(None))
                .values(ended_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            revoke_grants(self.session, user, session_ids=None, reason="logged out everywhere")
            self.audit.record(
                actor,
                "session.ended_everywhere",
                target_type="user",
                target_id=user.id,
                changes={"sessions_ended": int(ended or 0)},
            )
        self.session.expire_all()
        return int(ended or 0)

    def end_all(self, user_id: uuid.UUID) -> None:
        self.session.execute(
            update(BrowserSession)
            .where(BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    def _by_token(self, token: str) -> BrowserSession | None:
        return self.session.scalars(
            select(BrowserSession).where(BrowserSession.token_hash == _hash(token))
        ).one_or_none()

    @staticmethod
    def _end(browser: BrowserSession, _why: str) -> None:
        if browser.ended_at is None:
            browser.ended_at = utcnow()


def revoke_grants(
    session: OstiarySession,
    user: User,
    *,
    session_ids: list[uuid.UUID] | None,
    reason: str,
) -> None:
    """Revoke the user's live OAuth grants that stand on ``session_ids`` (all of the user's
    grants when None), in the caller's transaction."""
    where = (Grant.user_id == user.id) & Grant.revoked_at.is_(None)
    if session_ids is not None:
        where &= Grant.session_id.in_(session_ids)
    session.execute(
        update(Grant)
        .where(where)
        .values(revoked_at=utcnow(), revoked_reason=reason[:64])
        .execution_options(synchronize_session=False)
    )
