"""What one running Ostiary holds: settings, database, and the long-lived helpers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from ostiary.access.admin import Standings
from ostiary.access.cache import RightsCache
from ostiary.access.epochs import EpochMirror
from ostiary.access.evaluation import RightsEvaluator
from ostiary.authn.basic import BasicAuthenticator, VerifiedCredentials
from ostiary.authn.passwords import Passwords
from ostiary.db.changes import ChangeFeed, feed_for
from ostiary.db.engine import make_engine, reading_engine
from ostiary.db.session import OstiarySession, make_session_factory
from ostiary.federation.relying_party import UpstreamCache
from ostiary.keys.services import KeyRing
from ostiary.protocols.oidc.registry import ClientDirectory
from ostiary.protocols.oidc.tokens import RevocationList
from ostiary.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[OstiarySession]
    passwords: Passwords
    # Sessions that only read (see ``ostiary.db.engine.reading_engine``).
    read_sessions: sessionmaker[OstiarySession] = field(init=False)
    basic: BasicAuthenticator = field(init=False)
    rights: RightsCache = field(init=False)
    standings: Standings = field(init=False)
    keys: KeyRing = field(init=False)
    # What other connections commit, for the caches above (``ostiary.db.changes``).
    changes: ChangeFeed = field(init=False)
    # OAuth clients as the provider's endpoints look them up (checked against the row each time).
    clients: ClientDirectory = field(init=False, default_factory=ClientDirectory)
    # Access tokens revoked before they expire (``ostiary.protocols.oidc.tokens``).
    revocations: RevocationList = field(init=False, default_factory=RevocationList)
    # Whether ``close`` was called.
    closed: bool = field(init=False, default=False)
    # Set when a transaction that queued messages commits: wakes this process's message worker.
    messages_due: threading.Event = field(init=False, default_factory=threading.Event)
    # Discovery documents and key sets of upstream identity providers (ostiary.federation).
    upstreams: UpstreamCache = field(init=False, default_factory=UpstreamCache)

    def __post_init__(self) -> None:
        verified = VerifiedCredentials(self.settings.effective_secret_key)
        self.basic = BasicAuthenticator(self.passwords, verified)
        self.rights = RightsCache(direct_user_rights=self.settings.direct_user_rights)
        self.standings = Standings(self.rights)
        self.changes = feed_for(self.engine)
        mirror = EpochMirror(self.changes)
        self.read_sessions = make_session_factory(
            reading_engine(self.engine), mirror=mirror, reuse=True
        )
        # Writing sessions use what is kept as well, until they write (``OstiarySession``).
        self.sessions.configure(mirror=mirror)
        self.keys = KeyRing(self.settings.effective_secret_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.effective_database_url)
        return cls(settings, engine, make_session_factory(engine), Passwords(settings))

    def evaluator(self, session: OstiarySession) -> RightsEvaluator:
        return RightsEvaluator(session, direct_user_rights=self.settings.direct_user_rights)

    def close(self) -> None:
        self.closed = True
        self.changes.stop()
        self.engine.dispose()
