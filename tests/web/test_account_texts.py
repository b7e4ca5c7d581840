"""Every text of the account pages and of the console's import pages has its German."""

from __future__ import annotations

import re
from pathlib import Path

from ostiary.i18n import translations
from ostiary.web import (
    account_applications,
    account_nav,
    account_organizations,
    account_pages,
    account_password,
    account_sessions,
)
from ostiary.web.console import user_imports

TEMPLATES = Path(__file__).parents[2] / "ostiary" / "web" / "templates"
PAGES = (
    "account_nav.html",
    "account_refused.html",
    "account_password.html",
    "account_sessions.html",
    "account_applications.html",
    "account_organizations.html",
    "console/users_import.html",
    "console/users_import_job.html",
    "console/users_import_progress.html",
)
SAME_IN_GERMAN = frozenset({"Browser", "Problem"})


def test_german_translates_every_text_of_these_pages() -> None:
    texts: set[str] = set()
    for name in PAGES:
        found = re.findall(r"""_\((["'])(.+?)\1[,)]""", (TEMPLATES / name).read_text())
        texts |= {text for _, text in found}
    p, o = account_password, account_organizations
    texts |= {p.WRONG_CURRENT, p.SAME, p.MISMATCH, p.NOT_LOCAL, p.DELEGATED, p.CHANGED}
    texts |= {account_sessions.ENDED, account_sessions.GONE}
    texts |= {account_applications.REVOKED, account_applications.UNKNOWN}
    texts |= {o.JOINED, o.ASKED, o.INVITATION_GONE, o.ASK_EMPTY, *o.ASK_REFUSALS.values()}
    texts |= {account_pages.FORGED, *(label for _, _, label in account_nav.SECTIONS)}
    texts |= {user_imports.NO_FILE, user_imports.TOO_LARGE, "Import users"}
    german = translations("de")
    missing = sorted(t for t in texts if german.gettext(t) == t and t not in SAME_IN_GERMAN)
    assert texts and not missing
