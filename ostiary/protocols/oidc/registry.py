"""Registered clients as the provider's endpoints look them up on every request: by
``client_id``, from a per-process cache that is checked against the stored row each time.

Loading a ``Client`` through the ORM (a score of columns, five of them JSON) costs several times
what reading the same row as plain text does. ``ClientDirectory.find`` reads the row, with the
status of the client's service account, as text (one indexed statement, as before, and no type
conversion) and hands back the ``Client`` it built when it last saw exactly that text. A change to
any column (through the admin API, a provisioning file, another process or a hand edit) makes the
text differ, and the client is loaded anew. So the cache is never stale: it saves the ORM's work,
not the query. In sessions that only read, the query too is saved while the change feed
(``ostiary.db.changes``) vouches that neither the clients table nor the service account's row
changed since the client was read. Within one transaction a client is read once: a second lookup, and the question
whether its service account is active, are answered from that read.

The ``Client`` objects handed out are detached from every session and shared between requests
and threads: read them, never change them or add them to a session (load the client in your own
session for that, e.g. ``session.get(Client, client.id)``).

Module keys by module id (the audience of a client's tokens) are kept for the life of the
process: a module's key never changes, ids are never reused, and a module that clients refer to
cannot be deleted.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import make_transient_to_detached

from ostiary.access.epochs import user_scope
from ostiary.access.models import Module
from ostiary.clients.models import Client
from ostiary.db.changes import TABLE_TOPICS, Vouched
from ostiary.db.session import OstiarySession
from ostiary.users.models import User, UserStatus

_CLIENTS: Any = Client.__table__
_USERS: Any = User.__table__
_MODULES: Any = Module.__table__
# Every column as text: comparing needs no conversion, and any change shows.
_BY_CLIENT_ID = (
    select(
        *(cast(column, Text) for column in _CLIENTS.columns),
        cast(_USERS.c.status, Text).label("account_status"),
    )
    .select_from(_CLIENTS)
    .outerjoin(_USERS, _USERS.c.id == _CLIENTS.c.service_account_user_id)
    .where(_CLIENTS.c.client_id == bindparam("client_id"))
)
_TYPED = select(_CLIENTS).where(_CLIENTS.c.client_id == bindparam("client_id"))
_ACCOUNT_STATUS = select(_USERS.c.status).where(_USERS.c.id == bindparam("user_id"))
_MODULE_KEY = select(_MODULES.c.key).where(_MODULES.c.id == bindparam("module_id"))
_MEMO = "ostiary.oidc.clients"


class ClientDirectory:
    """Keep one per process (``Runtime.clients``)."""

    def __init__(self) -> None:
        # Plain dicts: a lookup or an assignment is atomic, and two threads building the same
        # client at once build equal ones.
        self._clients: dict[str, tuple[tuple[Any, ...], Client]] = {}
        self._module_keys: dict[uuid.UUID, str] = {}
        # Clients with their service account's status, as sessions that wrote nothing read them,
        # handed out without a statement while the change feed vouches for them.
        self._vouched = Vouched[str, tuple[Client, str | None]]()

    def find(self, session: OstiarySession, client_id: str | None) -> Client | None:
        """The client as stored now, or None."""
        if not client_id:
            return None
        feed = session.feed
        if feed is not None:
            kept = self._vouched.get(feed, client_id)
            if kept is not None:
                return kept[0]
        connection = session.connection()
        memo = _memo(session)
        if client_id in memo:
            return memo[client_id][0]
        row = connection.execute(_BY_CLIENT_ID, {"client_id": client_id}).first()
        if row is None:
            self._clients.pop(client_id, None)
            memo[client_id] = (None, None)
            return None
        text = tuple(row)
        cached = self._clients.get(client_id)
        if cached is not None and cached[0] == text:
            client = cached[1]
        else:
            client = _load(session, client_id)
            self._clients[client_id] = (text, client)
        memo[client_id] = (client, row.account_status)
        if feed is not None:
            self._vouched.keep(
                feed, connection, client_id, (client, row.account_status), _topics(client)
            )
        return client

    def account_active(self, session: OstiarySession, client: Client) -> bool:
        """Whether the client's service account is active (False when it has none)."""
        if client.service_account_user_id is None:
            return False
        feed = session.feed
        kept = self._vouched.get(feed, client.client_id) if feed is not None else None
        if kept is not None and kept[0] is client:
            return kept[1] == UserStatus.ACTIVE
        found = _memo(session).get(client.client_id)
        if found is not None and found[0] is client:
            status = found[1]
        else:
            status = (
                session.connection()
                .execute(_ACCOUNT_STATUS, {"user_id": client.service_account_user_id})
                .scalar()
            )
        return status == UserStatus.ACTIVE

    def module_key(self, session: OstiarySession, module_id: uuid.UUID) -> str | None:
        key = self._module_keys.get(module_id)
        if key is None:
            key = session.connection().execute(_MODULE_KEY, {"module_id": module_id}).scalar()
            if key is not None:
                self._module_keys[module_id] = key
        return key


def _topics(client: Client) -> tuple[str, ...]:
    """What a kept client depends on: the clients table, and its service account's row."""
    account = client.service_account_user_id
    return (TABLE_TOPICS["clients"],) + ((user_scope(account),) if account else ())


def _memo(session: OstiarySession) -> dict[str, tuple[Client | None, str | None]]:
    """What this transaction read already (call after ``session.connection()``)."""
    return session.memo(_MEMO)


def _load(session: OstiarySession, client_id: str) -> Client:
    """The client from its typed row, detached, as if loaded by a session that has closed: the
    caller's session (which may hold this client already) is left as it is, and adding the
    object to a session would never INSERT it."""
    row = session.connection().execute(_TYPED, {"client_id": client_id}).one()
    client = Client(**row._asdict())
    make_transient_to_detached(client)
    return client
