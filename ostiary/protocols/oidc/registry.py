"""Registered clients as the provider's endpoints look them up on every request: by
``client_id``, from a per-process cache that is checked against the stored row each time.

Loading a ``Client`` through the ORM (a score of columns, five of them JSON) costs several times
what reading the same row as a plain tuple does. ``ClientDirectory.find`` reads the row as a tuple
(one indexed statement, as before) and hands back the ``Client`` it built when it last saw exactly
that row. A change to any column (through the admin API, a provisioning file, another process or
a hand edit) makes the row differ, and the client is built anew from it. So the cache is never
stale: it saves the ORM's work, not the query.

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

from sqlalchemy import bindparam, select
from sqlalchemy.orm import make_transient_to_detached

from ostiary.access.models import Module
from ostiary.clients.models import Client
from ostiary.db.session import OstiarySession

_CLIENTS: Any = Client.__table__
_MODULES: Any = Module.__table__
_BY_CLIENT_ID = select(_CLIENTS).where(_CLIENTS.c.client_id == bindparam("client_id"))
_MODULE_KEY = select(_MODULES.c.key).where(_MODULES.c.id == bindparam("module_id"))


class ClientDirectory:
    """Keep one per process (``Runtime.clients``)."""

    def __init__(self) -> None:
        # Plain dicts: a lookup or an assignment is atomic, and two threads building the same
        # client at once build equal ones.
        self._clients: dict[str, tuple[tuple[Any, ...], Client]] = {}
        self._module_keys: dict[uuid.UUID, str] = {}

    def find(self, session: OstiarySession, client_id: str | None) -> Client | None:
        """The client as stored now, or None."""
        if not client_id:
            return None
        row = session.connection().execute(_BY_CLIENT_ID, {"client_id": client_id}).first()
        if row is None:
            self._clients.pop(client_id, None)
            return None
        values = tuple(row)
        cached = self._clients.get(client_id)
        if cached is not None and cached[0] == values:
            return cached[1]
        client = Client(**row._asdict())
        # As if loaded by a session that has since closed: no INSERT if someone adds it.
        make_transient_to_detached(client)
        self._clients[client_id] = (values, client)
        return client

    def module_key(self, session: OstiarySession, module_id: uuid.UUID) -> str | None:
        key = self._module_keys.get(module_id)
        if key is None:
            key = session.connection().execute(_MODULE_KEY, {"module_id": module_id}).scalar()
            if key is not None:
                self._module_keys[module_id] = key
        return key
