"""Per-user settings kept in ACLs of the category ``User Preferences``."""

from __future__ import annotations

from sqlalchemy import select

from ostiary import text
from ostiary.access.models import USER_PREFERENCES, Acl, Module, UserPreference
from ostiary.access.values import normalise
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput
from ostiary.text import Text
from ostiary.users.models import User


class PreferenceService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def _acls(self, module: Module) -> dict[str, Acl]:
        return {acl.key: acl for acl in module.acls if acl.category == USER_PREFERENCES}

    def read(self, user: User, module: Module) -> dict[str, str | None]:
        acls = self._acls(module)
        stored = {
            acl_id: value
            for acl_id, value in self.session.execute(
                select(UserPreference.acl_id, UserPreference.value).where(
                    UserPreference.user_id == user.id
                )
            )
        }
        return {key: stored.get(acl.id) for key, acl in sorted(acls.items())}

    def write(
        self, user: User, module: Module, values: dict[str, str | None]
    ) -> dict[str, str | None]:
        acls = self._acls(module)
        problems: list[FieldProblem] = []
        normalised: dict[str, str | None] = {}
        for key, value in values.items():
            acl = acls.get(key)
            if acl is None:
                problems.append(
                    FieldProblem(
                        f"values.{key}",
                        Text(
                            "module '{module}' has no preference '{key}'",
                            module=module.key,
                            key=key,
                        ),
                    )
                )
                continue
            try:
                normalised[key] = None if value is None else normalise(acl, value)
            except ValueError as exc:
                problems.append(FieldProblem(f"values.{key}", text.of(exc)))
        if problems:
            raise InvalidInput(problems)
        with self.session.atomic():
            for key, value in normalised.items():
                current = self.session.get(UserPreference, (user.id, acls[key].id))
                if value is None and current is not None:
                    self.session.delete(current)
                elif value is not None and current is None:
                    self.session.add(
                        UserPreference(user_id=user.id, acl_id=acls[key].id, value=value)
                    )
                elif current is not None and value is not None:
                    current.value = value
            self.audit.record(
                self.actor,
                "preferences.changed",
                target_type="user",
                target_id=user.id,
                changes={"module": module.key, "keys": sorted(normalised)},
            )
        return self.read(user, module)
