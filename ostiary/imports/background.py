"""Running an import of an admin (the REST API's, the console's) in the background, as a job
whose progress is read from ``user_imports``; the caller's reach and grant guard as for a run
in the request."""

from __future__ import annotations

import logging
import threading
import uuid

from ostiary.access.admin import AdminScope
from ostiary.access.guard import GrantGuard
from ostiary.db.session import OstiarySession
from ostiary.imports.models import UserImport
from ostiary.imports.problems import InvalidFile
from ostiary.imports.services import ImportOptions, UserImportService
from ostiary.runtime import Runtime
from ostiary.users.models import User

logger = logging.getLogger("ostiary.imports")


def service_for(
    runtime: Runtime, session: OstiarySession, actor_user: User, scope: AdminScope
) -> UserImportService:
    """The import service for an admin: their scope, and what they may grant."""
    guard = None if scope.unrestricted else GrantGuard(session, runtime.rights, actor_user, scope)
    return UserImportService(session, scope.actor, scope=scope, guard=guard)


def run_in_background(
    runtime: Runtime,
    caller_id: uuid.UUID,
    scope: AdminScope,
    job: UserImport,
    body: bytes,
    options: ImportOptions,
) -> threading.Thread:
    """Run the started ``job`` on a thread of its own."""
    thread = threading.Thread(
        target=_run_job,
        args=(runtime, caller_id, scope, job.id, body, options),
        name=f"user-import-{job.id}",
        daemon=True,
    )
    thread.start()
    return thread


def _run_job(
    runtime: Runtime,
    caller_id: uuid.UUID,
    scope: AdminScope,
    job_id: uuid.UUID,
    body: bytes,
    options: ImportOptions,
) -> None:
    """A large import, in a session of its own; validated again, against the database as it is
    by then. A job that a restart cut short continues when the same file is sent again."""
    try:
        with runtime.sessions() as session:
            user = session.get(User, caller_id)
            assert user is not None
            service = service_for(runtime, session, user, scope)
            job = service.job(job_id)
            try:
                validated = service.validate(body, options)
            except InvalidFile as exc:
                service.fail(job, exc.problems)
                return
            service.resume(job, validated, options)
    except Exception:
        logger.exception("the user import %s stopped", job_id)
