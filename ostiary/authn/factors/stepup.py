"""Changing a factor needs a recent sign-in: within ``OSTIARY_STEP_UP_MINUTES`` of the login,
or of the last time the user confirmed it was them (password or a second factor) again."""

from __future__ import annotations

from datetime import datetime, timedelta

from ostiary.authn.models import BrowserSession
from ostiary.db.types import utcnow
from ostiary.errors import OstiaryError
from ostiary.settings import Settings


class ReauthenticationRequired(OstiaryError):
    kind = "reauthentication-required"
    status = 403
    title = "Confirm it is you"


def last_proof(browser: BrowserSession) -> datetime:
    if browser.reauthenticated_at is not None and browser.reauthenticated_at > browser.auth_time:
        return browser.reauthenticated_at
    return browser.auth_time


def fresh(browser: BrowserSession, settings: Settings, *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return now - last_proof(browser) <= timedelta(minutes=settings.step_up_minutes)


def mark(browser: BrowserSession) -> None:
    browser.reauthenticated_at = utcnow()
