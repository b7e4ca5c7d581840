"""Browser sessions kept on the server; the cookie carries only a random token."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.policy import acr_for
from ostiary.authn.models import BrowserSession
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
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
        self, user: User, *, amr: list[str], actor: Actor, previous: str | None = None
    ) -> tuple[BrowserSession, str]:
        """A new session (and a new id, always) for a successful login; an earlier session of
        the same browser ends."""
        if previous:
            old = self._by_token(previous)
            if old is not None:
                self._end(old, "replaced")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        browser = BrowserSession(
            token_hash=_hash(token),
            user_id=user.id,
            security_stamp=user.security_stamp,
            auth_time=now,
            amr=amr,
            acr=acr_for(amr),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute,
        )
        self.session.add(browser)
        first_login = user.first_login_at is None
        user.last_login_at = now
        if first_login:
            user.first_login_at = now
        self.session.flush()
        self.audit.record(
            actor,
            "session.started",
            target_type="user",
            target_id=user.id,
            changes={"session": str(browser.id), "amr": amr},
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
