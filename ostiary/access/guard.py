"""No escalation: a caller grants only what they hold themselves.

Callers who hold the right at the root may grant anything (they could give it to themselves
anyway). Everyone else may grant a right in a context only if they hold it, with at least the
same reach, in one of their own contexts at or above it: a bool right that is true for them, an
``API IP Allow`` whose ranges lie inside theirs, another text right with the same value.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select

from ostiary.access.admin import AdminScope
from ostiary.access.cache import RightsCache
from ostiary.access.evaluation import EffectiveRights
from ostiary.access.models import Acl, AclType
from ostiary.access.values import API_IP_ALLOW, FALSE, TRUE, parse_networks
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden, Refusal
from ostiary.text import Text
from ostiary.users.models import Membership, User

ESCALATION = "access.escalation_refused"


class EscalationRefused(Forbidden):
    kind = "escalation-refused"
    title = "Not yours to grant"


def _networks_within(wanted: str, held: str | None) -> bool:
    if not held:
        return False
    mine = parse_networks(held)
    return all(
        any(net.version == own.version and net.subnet_of(own) for own in mine)  # type: ignore[arg-type]
        or any(own.prefixlen == 0 for own in mine)
        for net in parse_networks(wanted)
    )


class GrantGuard:
    def __init__(
        self, session: OstiarySession, rights: RightsCache, caller: User, scope: AdminScope
    ) -> None:
        self.session = session
        self.rights = rights
        self.caller = caller
        self.scope = scope

    def check(
        self,
        context: Context,
        values: Mapping[uuid.UUID, str],
        *,
        target: str,
        target_id: uuid.UUID | None,
    ) -> None:
        if self.scope.unrestricted:
            return
        wanted = {acl_id: v for acl_id, v in values.items() if v and v != FALSE}
        if not wanted:
            return
        acls = {
            acl.id: acl for acl in self.session.scalars(select(Acl).where(Acl.id.in_(list(wanted))))
        }
        held = self._held(context, {acl.module.key for acl in acls.values()})
        beyond = sorted(
            f"{acl.module.key}.{acl.key}"
            for acl_id, acl in acls.items()
            if not any(
                self._holds(rights, acl, wanted[acl_id]) for rights in held.get(acl.module.key, [])
            )
        )
        if beyond:
            raise EscalationRefused(
                Text(
                    "you cannot grant rights you do not hold yourself: {beyond}",
                    beyond=", ".join(beyond),
                ),
                field="rights",
                refusal=Refusal(
                    self.scope.actor,
                    ESCALATION,
                    target,
                    str(target_id) if target_id else None,
                    context.id,
                    f"would grant {', '.join(beyond)}",
                ),
            )

    def ungrantable(self, context: Context, acls: Sequence[Acl]) -> frozenset[uuid.UUID]:
        """The rights among ``acls`` that ``check`` would refuse in ``context`` whatever their
        value: a bool right the caller does not hold as true, a text right they hold no value
        of. Forms show them, but not for changing."""
        if self.scope.unrestricted or not acls:
            return frozenset()
        held = self._held(context, {acl.module.key for acl in acls})

        def holds_any(acl: Acl) -> bool:
            return any(
                self._holds(rights, acl, TRUE)
                if acl.type == AclType.BOOL
                else rights.access and bool(rights.text(acl.key))
                for rights in held.get(acl.module.key, [])
            )

        return frozenset(acl.id for acl in acls if not holds_any(acl))

    def _held(self, context: Context, modules: set[str]) -> dict[str, list[EffectiveRights]]:
        own = self.session.scalars(
            select(Context)
            .join(Membership, Membership.context_id == Context.id)
            .where(Membership.user_id == self.caller.id)
        ).all()
        above = [c for c in own if context.path.startswith(c.path)]
        return {
            module: [
                self.rights.effective(
                    self.session, self.caller, c, module, external_roles=self.scope.external_roles
                )
                for c in above
            ]
            for module in modules
        }

    @staticmethod
    def _holds(rights: EffectiveRights, acl: Acl, value: str) -> bool:
        if not rights.access:
            return False
        if acl.type == AclType.BOOL:
            return value != TRUE or rights.allows(acl.key)
        mine = rights.text(acl.key)
        if acl.key == API_IP_ALLOW:
            return _networks_within(value, mine)
        return mine == value
