"""Answers to "may this user do this here?", one at a time or in bulk, for any module."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ostiary.access import epochs
from ostiary.access.cache import RightsCache, Subject
from ostiary.access.evaluation import EffectiveRights
from ostiary.access.models import Module
from ostiary.access.subjects import ContextRef, RightsPlace, UserRef, find_context, find_user
from ostiary.access.values import API_IP_ALLOW, address_allowed
from ostiary.contexts.closed import open_only
from ostiary.contexts.models import Context
from ostiary.db.offload import run_database_block
from ostiary.db.session import OstiarySession
from ostiary.errors import NotFound
from ostiary.users.models import Membership, User, UserStatus


@dataclass(frozen=True)
class Question:
    user: str
    context: str
    module: str
    right: str
    address: str | None = None


@dataclass(frozen=True)
class Answer:
    allowed: bool
    value: bool | str | None
    reason: str


class Decider:
    def __init__(
        self, session: OstiarySession, rights: RightsCache, visible_paths: Sequence[str] | None
    ) -> None:
        self.session = session
        self.rights = rights
        self.visible_paths = visible_paths

    def answer(self, question: Question) -> Answer:
        subject = self._subject(question)
        if isinstance(subject, Answer):
            return subject
        refused = self._refused(subject)
        if refused is not None:
            return refused
        try:
            rights = self.rights.effective(
                self.session, subject.user, subject.context, question.module, current=subject.epochs
            )
        except NotFound:
            return Answer(False, None, "no such module")
        return self._decide(rights, question)

    def answer_cached(self, question: Question) -> Answer | None:
        """The answer if the caches hold all it needs (one statement: the epochs that vouch for
        them), else None; never computes, so it can run where a longer block must not."""
        known = self.rights.subject((question.user, question.context))
        if known is None:
            return None
        if epochs.read(self.session, known.user.id, known.context.id) != known.epochs:
            return None
        refused = self._refused(known)
        if refused is not None:
            return refused
        rights = self.rights.cached(known.user, known.context, question.module, known.epochs)
        return None if rights is None else self._decide(rights, question)

    def _refused(self, subject: Subject) -> Answer | None:
        if not self._visible(subject.context):
            return Answer(False, None, "no such context")
        if subject.user.status != UserStatus.ACTIVE:
            return Answer(False, None, f"the user is {subject.user.status}")
        return None

    def _subject(self, question: Question) -> Subject | Answer:
        """Whom and where: warm, one statement (the epochs that vouch for the cached refs)."""
        references = (question.user, question.context)
        known = self.rights.subject(references)
        if known is not None:
            current = epochs.read(self.session, known.user.id, known.context.id)
            if current == known.epochs:
                return known
        found = self._resolve(question)
        if isinstance(found, Answer):
            return found
        user, context = found
        current = epochs.read(self.session, user.id, context.id)
        subject = Subject(user, context, current)
        # Kept only if nothing changed while the epochs were read: where each statement sees
        # its own snapshot (PostgreSQL in autocommit), a change committed between the first
        # read and the epochs would otherwise be cached under the epochs it raised.
        if self._resolve(question) == found:
            self.rights.keep_subject(references, subject)
        return subject

    def _resolve(self, question: Question) -> tuple[UserRef, ContextRef] | Answer:
        db = self.session.core()
        context = find_context(db, question.context)
        if context is None or not self._visible(context):
            return Answer(False, None, "no such context")
        user = find_user(db, question.user)
        if user is None:
            return Answer(False, None, "no such user")
        return user, context

    def answer_all(self, questions: Sequence[Question | Answer]) -> list[Answer]:
        return [q if isinstance(q, Answer) else self.answer(q) for q in questions]

    @staticmethod
    def _decide(rights: EffectiveRights, question: Question) -> Answer:
        if not rights.access:
            return Answer(False, None, rights.denial or "no access to the module")
        decision = rights.decisions.get(question.right)
        if decision is None:
            return Answer(False, None, f"the module has no right '{question.right}'")
        if question.address is not None and API_IP_ALLOW in rights.decisions:
            if not address_allowed(rights.text(API_IP_ALLOW), question.address):
                return Answer(False, decision.value, "API IP Allow does not admit the address")
            if question.right == API_IP_ALLOW:
                return Answer(True, decision.value, "the address is admitted")
        if decision.value is True:
            return Answer(True, True, f"granted by {decision.group or decision.step}")
        if isinstance(decision.value, str):
            return Answer(True, decision.value, f"set by {decision.group or decision.step}")
        return Answer(False, decision.value, "not granted")

    def _visible(self, context: RightsPlace) -> bool:
        return self.visible_paths is None or any(
            context.path.startswith(p) for p in self.visible_paths
        )


# Questions answered from the caches on the event loop before the rest goes to the database
# block: each costs a statement, and a bulk request must not hold the loop for long.
CACHED_ON_LOOP = 4


async def decide(
    engine: Engine, decider: Decider, questions: Sequence[Question | Answer]
) -> list[Answer]:
    """Answers in order (an ``Answer`` among the questions stands for itself).

    Warm questions are answered where the request runs, one statement each: the hop to the
    thread pool and back, and the wait for the GIL after it, cost more than that statement.
    From the first question that needs computing on, the rest runs as one database block
    (``ostiary.db.offload``).
    """
    answers: list[Answer] = []
    for index, question in enumerate(questions):
        if isinstance(question, Answer):
            answers.append(question)
            continue
        cached = decider.answer_cached(question) if index < CACHED_ON_LOOP else None
        if cached is None:
            rest = questions[index:]
            answers += await run_database_block(engine, functools.partial(decider.answer_all, rest))
            break
        answers.append(cached)
    return answers


@dataclass(frozen=True)
class Switchable:
    context: Context
    modules: list[str]


def switchable_contexts(
    session: OstiarySession,
    rights: RightsCache,
    user: User,
    external_roles: Sequence[str] = (),
) -> list[Switchable]:
    """The user's contexts in tree order, each with the modules open to them there (with the
    external role names of their login); none that is suspended."""
    contexts = open_only(
        session.core(),
        session.scalars(
            select(Context)
            .join(Membership, Membership.context_id == Context.id)
            .where(Membership.user_id == user.id)
            .order_by(Context.path)
        ).all(),
    )
    modules = session.scalars(select(Module.key).order_by(Module.key)).all()
    return [
        Switchable(
            context,
            [
                m
                for m in modules
                if rights.effective(session, user, context, m, external_roles=external_roles).access
            ],
        )
        for context in contexts
    ]
