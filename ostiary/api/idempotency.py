"""``Idempotency-Key`` (IETF draft "The Idempotency-Key HTTP Header Field") for POST routes.

A route opts in with ``dependencies=[Idempotent]``. The first request with a key claims it for
its caller, in a transaction of its own, with a fingerprint of the request (method, path, query
and body); ``IdempotencyMiddleware`` keeps the route's answer once it succeeds, for 24 hours.
A repeat with the same fingerprint gets the kept answer (status and body) and runs nothing; the
same key with another request is 422; a repeat while the first is still being answered is 409.
An answer that is not a success frees the key again: nothing was written, the request may be
repeated.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ostiary.api.models import IdempotencyRecord
from ostiary.api.v1.deps import CallerDep, RuntimeDep
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import Conflict, FieldProblem, InvalidInput, RuleViolation

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
# A claim this old without an answer belongs to a request that died with its process.
ABANDONED = timedelta(minutes=10)
REPLAYED = "Idempotent-Replayed"
_SCOPE_KEY = "ostiary.idempotency"
# An sf-string (RFC 8941) of visible ASCII, or the same without its quotes.
_KEY = re.compile(r'^"?([\x20-\x21\x23-\x5b\x5d-\x7e]{1,255})"?$')


class KeyReused(RuleViolation):
    kind = "idempotency-key-reused"
    title = "Idempotency key used for another request"


class KeyInUse(Conflict):
    kind = "idempotency-key-in-use"
    title = "A request with this idempotency key is still being answered"


@dataclass(frozen=True)
class Claim:
    caller_id: uuid.UUID
    key: str


@dataclass(frozen=True)
class KeptAnswer:
    status_code: int
    content_type: str | None
    body: bytes


class Replay(Exception):  # noqa: N818 - not an error: the answer to send
    def __init__(self, answer: KeptAnswer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """The same for requests that say the same: JSON bodies compare by content."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, sessions: sessionmaker[OstiarySession]) -> None:
        self.sessions = sessions

    def claim(self, claim: Claim, print_: str, now: datetime | None = None) -> KeptAnswer | None:
        """Claim the key, or the kept answer of the request that claimed it first."""
        now = now or utcnow()
        with self.sessions() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    or_(
                        IdempotencyRecord.expires_at <= now,
                        and_(
                            IdempotencyRecord.caller_id == claim.caller_id,
                            IdempotencyRecord.key == claim.key,
                            IdempotencyRecord.status_code.is_(None),
                            IdempotencyRecord.created_at <= now - ABANDONED,
                        ),
                    )
                )
            )
            session.add(
                IdempotencyRecord(
                    caller_id=claim.caller_id,
                    key=claim.key,
                    fingerprint=print_,
                    created_at=now,
                    expires_at=now + KEEP,
                )
            )
            try:
                session.commit()
                return None
            except IntegrityError:
                session.rollback()
            found = session.scalars(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.caller_id == claim.caller_id,
                    IdempotencyRecord.key == claim.key,
                )
            ).one_or_none()
        if found is None:  # gone between the two statements: its request failed
            return self.claim(claim, print_, now)
        if found.fingerprint != print_:
            raise KeyReused("this Idempotency-Key was used for a different request", field=HEADER)
        if found.status_code is None:
            raise KeyInUse(
                "the first request with this Idempotency-Key is still being answered",
                field=HEADER,
            )
        return KeptAnswer(found.status_code, found.content_type, found.body or b"")

    def keep(self, claim: Claim, answer: KeptAnswer) -> None:
        with self.sessions() as session, session.begin():
            session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.caller_id == claim.caller_id,
                    IdempotencyRecord.key == claim.key,
                )
                .values(
                    status_code=answer.status_code,
                    content_type=answer.content_type,
                    body=answer.body,
                )
            )

    def release(self, claim: Claim) -> None:
        with self.sessions() as session, session.begin():
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.caller_id == claim.caller_id,
                    IdempotencyRecord.key == claim.key,
                    IdempotencyRecord.status_code.is_(None),
                )
            )


async def idempotency_key(
    request: Request,
    runtime: RuntimeDep,
    caller: CallerDep,
    raw: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Makes a repeat of this request get the first answer (24 hours).",
        ),
    ] = None,
) -> None:
    """Claim the request's key for its caller, or answer with what the first request got."""
    if raw is None:
        return
    match = _KEY.match(raw.strip())
    if match is None:
        raise InvalidInput(
            [FieldProblem(HEADER, "must be 1 to 255 visible ASCII characters, as a string")]
        )
    claim = Claim(caller.identity.id, match.group(1))
    print_ = fingerprint(request.method, request.url.path, request.url.query, await request.body())
    kept = await run_in_threadpool(IdempotencyStore(runtime.sessions).claim, claim, print_)
    if kept is not None:
        raise Replay(kept)
    request.scope[_SCOPE_KEY] = claim


Idempotent = Depends(idempotency_key)


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    answer = exc.answer
    return Response(
        answer.body,
        status_code=answer.status_code,
        media_type=answer.content_type,
        headers={REPLAYED: "true"},
    )


class IdempotencyMiddleware:
    """Keeps the answer of a request that claimed a key, before the client sees it, so that
    a repeat can only get the same answer; frees the key when the answer is not a success."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        done = False

        async def capture(message: Message) -> None:
            nonlocal done
            claim: Claim | None = scope.get(_SCOPE_KEY)
            if claim is None or done:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done = True
                await run_in_threadpool(self._settle, scope, claim, held)
                for part in held:
                    await send(part)

        try:
            await self.app(scope, receive, capture)
        finally:
            claim = scope.get(_SCOPE_KEY)
            if claim is not None and not done:
                await run_in_threadpool(self._store(scope).release, claim)

    @staticmethod
    def _store(scope: Scope) -> IdempotencyStore:
        return IdempotencyStore(scope["app"].state.runtime.sessions)

    def _settle(self, scope: Scope, claim: Claim, held: list[Message]) -> None:
        start = held[0]
        status: int = start["status"]
        store = self._store(scope)
        if not 200 <= status < 300:
            store.release(claim)
            return
        headers: dict[bytes, bytes] = dict(start.get("headers", []))
        content_type = headers.get(b"content-type")
        body = b"".join(m.get("body", b"") for m in held[1:])
        store.keep(claim, KeptAnswer(status, content_type.decode() if content_type else None, body))


def install(app: Any) -> None:
    app.add_exception_handler(Replay, _replay)
    app.add_middleware(IdempotencyMiddleware)
