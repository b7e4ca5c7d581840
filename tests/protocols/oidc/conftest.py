"""A real Ostiary server on a free port (uvicorn in a thread) for protocol peers to talk to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ostiary.access.catalogue import AclSpec, ModuleSpec
from ostiary.access.groups import GroupService
from ostiary.access.modules import ModuleService
from ostiary.access.rightsets import RightSets
from ostiary.audit.actor import Actor
from ostiary.clients.models import Client
from ostiary.contexts.models import ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.runtime import Runtime
from ostiary.server import free_port
from ostiary.users.models import UserStatus
from ostiary.users.schemas import UserCreate
from ostiary.users.services import UserService
from tests.apps import app_for, served_over_http

PASSWORD = "a sturdy test password"
REDIRECT = "http://127.0.0.1:9/callback"
ACTOR = Actor("test", "cli")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": f"http://127.0.0.1:{free_port()}"}


@dataclass(frozen=True)
class Provider:
    issuer: str
    runtime: Runtime


@pytest.fixture
def provider(runtime: Runtime) -> Iterator[Provider]:
    port = int(runtime.settings.issuer.rsplit(":", 1)[1])
    with served_over_http(app_for(runtime), port):
        yield Provider(runtime.settings.issuer, runtime)


@dataclass(frozen=True)
class World:
    username: str
    user_id: str
    contexts: dict[str, str]


def make_world(runtime: Runtime, *, contexts: int = 1) -> World:
    """A portal module, an account (or several) where the user may use it, and the user."""
    with runtime.sessions() as session:
        modules = ModuleService(session, ACTOR)
        modules.put(
            ModuleSpec(
                "portal",
                "Portal",
                [],
                "portalAccess",
                [AclSpec("portalAccess", "Module"), AclSpec("orders.read", "Orders")],
            )
        )
        service = ContextService(session, ACTOR)
        root = service.root()
        assert root is not None
        made = {}
        for i in range(contexts):
            made[f"acme{i}"] = service.create(
                ContextCreate(
                    key=f"acme{i}", type=ContextType.ACCOUNT, name=f"Acme {i}", parent_id=root.id
                )
            )
        user = UserService(session, ACTOR, runtime.passwords).create(
            UserCreate(
                username="jeremy",
                domain="ENTERPRISE",
                status=UserStatus.ACTIVE,
                email="jeremy@city.example",
                first_name="Jeremy",
                last_name="Mills",
                password=PASSWORD,
            ),  # type: ignore[arg-type]
            contexts=list(made.values()),
        )
        problems: list = []
        values = RightSets(session).resolve(
            {"portal": {"portalAccess": True, "orders.read": True}},
            place="rights",
            problems=problems,
        )
        groups = GroupService(session, ACTOR)
        for context in made.values():
            group, _ = groups.put(context, "Portal users", role=None, rights=values)
            groups.set_members_of_user(user.id, context, {group.id})
        return World("jeremy", str(user.id), {k: str(v.id) for k, v in made.items()})


def make_client(runtime: Runtime, client_id: str, **fields: object) -> None:
    with runtime.sessions() as session, session.atomic():
        module = ModuleService(session, ACTOR).find("portal")
        values: dict[str, object] = {
            "client_id": client_id,
            "name": client_id,
            "module_id": module.id if module else None,
            "public": True,
            "token_endpoint_auth_method": "none",
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "profile", "email", "offline_access"],
        }
        values.update(fields)
        session.add(Client(**values))
