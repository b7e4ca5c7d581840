"""Effective rights, computed once and reused until a change that affects them."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from ostiary.access import epochs
from ostiary.access.evaluation import AclInfo, EffectiveRights, ModuleSnapshot, RightsEvaluator
from ostiary.access.models import USER_PREFERENCES, Acl, Module
from ostiary.access.subjects import ContextRef, RightsHolder, RightsPlace, UserRef
from ostiary.db.session import OstiarySession
from ostiary.errors import NotFound
from ostiary.text import Text

CacheKey = tuple[uuid.UUID, uuid.UUID, str, frozenset[str]]
Epochs = tuple[int, int, int]

_MODULE = select(Module.id, Module.context_types, Module.access_right).where(
    Module.key == bindparam("key")
)
_ACLS = (
    select(Acl.id, Acl.key, Acl.type)
    .where(Acl.module_id == bindparam("module_id"), Acl.category != USER_PREFERENCES)
    .order_by(Acl.key)
)


@dataclass(frozen=True)
class Subject:
    """The user and context that a question names (by id, username or key), as they were
    while the rights epochs of both stood at ``epochs``: any change to what the refs hold
    (status, username, path, type, policy, key) raises one of them."""

    user: UserRef
    context: ContextRef
    epochs: Epochs


class RightsCache:
    """Per process; entries carry the epochs they were computed under (see ``epochs``)."""

    def __init__(self, *, direct_user_rights: bool, max_entries: int = 100_000) -> None:
        self.direct_user_rights = direct_user_rights
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, tuple[Epochs, EffectiveRights]] = OrderedDict()
        # What the references of authorization questions named: (user ref, context ref).
        self._subjects: OrderedDict[tuple[str, str], Subject] = OrderedDict()
        # Module catalogues change only with the global epoch.
        self._modules: dict[str, tuple[int, ModuleSnapshot]] = {}
        self._lock = threading.Lock()

    def effective(
        self,
        session: OstiarySession,
        user: RightsHolder,
        context: RightsPlace,
        module_key: str,
        *,
        external_roles: Iterable[str] = (),
        current: Epochs | None = None,
    ) -> EffectiveRights:
        """``current``: the epochs of ``user`` and ``context`` when the caller has just read
        them, else they are read here."""
        key: CacheKey = (user.id, context.id, module_key, frozenset(external_roles))
        if current is None:
            current = epochs.read(session, user.id, context.id)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached[0] == current:
                self._entries.move_to_end(key)
                return cached[1]
        module = self._module(session, module_key, current[0])
        evaluator = RightsEvaluator(session, direct_user_rights=self.direct_user_rights)
        rights = evaluator.evaluate(user, context, module, external_roles=key[3])
        with self._lock:
            self._entries[key] = (current, rights)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return rights

    def cached(
        self, user: RightsHolder, context: RightsPlace, module_key: str, current: Epochs
    ) -> EffectiveRights | None:
        """The rights computed under ``current``, if kept; never computes (no statement)."""
        key: CacheKey = (user.id, context.id, module_key, frozenset())
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or cached[0] != current:
                return None
            self._entries.move_to_end(key)
            return cached[1]

    def subject(self, references: tuple[str, str]) -> Subject | None:
        with self._lock:
            return self._subjects.get(references)

    def keep_subject(self, references: tuple[str, str], subject: Subject) -> None:
        with self._lock:
            self._subjects[references] = subject
            self._subjects.move_to_end(references)
            while len(self._subjects) > self.max_entries:
                self._subjects.popitem(last=False)

    def _module(self, session: OstiarySession, key: str, global_epoch: int) -> ModuleSnapshot:
        cached = self._modules.get(key)
        if cached is not None and cached[0] == global_epoch:
            return cached[1]
        # Plain rows, not ORM objects: catalogues run to hundreds of rights.
        db = session.core()
        found = db.execute(_MODULE, {"key": key}).one_or_none()
        if found is None:
            raise NotFound(Text("no module with key '{key}'", key=key), field="module")
        acls = db.execute(_ACLS, {"module_id": found.id})
        snapshot = ModuleSnapshot(
            key,
            tuple(found.context_types),
            found.access_right,
            tuple(AclInfo(acl_id, acl_key, acl_type) for acl_id, acl_key, acl_type in acls),
        )
        self._modules[key] = (global_epoch, snapshot)
        return snapshot

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._subjects.clear()
            self._modules.clear()
