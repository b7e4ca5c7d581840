"""Property test: any sequence of lifecycle actions keeps the rules of PRODUCT.md."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ostiary.audit.actor import Actor
from ostiary.errors import InvalidTransition
from ostiary.runtime import Runtime
from ostiary.users.lifecycle import TRANSITIONS, LifecycleAction
from ostiary.users.models import User, UserStatus
from ostiary.users.schemas import UserCreate
from ostiary.users.services import UserService


def test_lifecycle_follows_the_state_machine(runtime: Runtime) -> None:
    counter = iter(range(10_000))

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.session = runtime.sessions()
            self.users = UserService(self.session, Actor("machine", "cli"), runtime.passwords)
            n = next(counter)
            self.user: User | None = self.users.create(
                UserCreate(
                    username=f"m{n}", domain="CSP", email=f"m{n}@example.com", first_name="Mia"
                )
            )
            self.expected: UserStatus | None = UserStatus.DRAFT
            self.ever_deleted = False

        def teardown(self) -> None:
            self.session.close()

        @rule(action=st.sampled_from(list(LifecycleAction)))
        def act(self, action: LifecycleAction) -> None:
            if self.expected is None:  # discarded: nothing left to act on
                return
            assert self.user is not None
            allowed = (self.expected, action) in TRANSITIONS
            try:
                result = self.users.act(self.user, action)
            except InvalidTransition:
                assert not allowed
                return
            assert allowed
            self.expected = TRANSITIONS[(self.expected, action)]
            if self.expected is None:
                assert result is None
            if self.expected is UserStatus.DELETED:
                self.ever_deleted = True

        @invariant()
        def stored_state_matches(self) -> None:
            if self.user is None:
                return
            self.session.expire_all()
            stored = self.session.get(User, self.user.id)
            if self.expected is None:
                assert stored is None
                return
            assert stored is not None and stored.status == self.expected
            if self.ever_deleted:
                assert stored.status == UserStatus.DELETED
                assert stored.email is None and stored.first_name is None
                assert stored.username.startswith("deleted-")
            else:
                assert stored.first_name == "Mia"

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=25,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
