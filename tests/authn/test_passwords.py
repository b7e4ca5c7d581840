"""Hashing in threads of lower priority, one per CPU, shared by the process."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ostiary.authn.passwords import HASHING_NICENESS, Passwords, hashing_threads
from ostiary.settings import Settings


def cheap_passwords(tmp_path: Path) -> Passwords:
    # The lowest parameters allowed: these tests are about where hashes run, not their cost.
    settings = Settings(
        data_dir=tmp_path, argon2_memory_cost_kib=1024, argon2_time_cost=1, argon2_parallelism=1
    )
    return Passwords(settings)


@pytest.fixture
def passwords(tmp_path: Path) -> Passwords:
    return cheap_passwords(tmp_path)


def test_a_hash_verifies_its_password_and_no_other(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery staple")
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "correct horse battery stapler")
    assert not passwords.verify("not a hash", "correct horse battery staple")
    assert not passwords.verify(None, "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have a niceness on Linux")
def test_hashes_run_at_a_lower_priority_than_the_rest_of_the_process(passwords: Passwords) -> None:
    passwords.hash("warm")  # the threads are made with the first hash
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = hashing_threads().submit(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    )
    assert theirs.result() == min(19, mine + HASHING_NICENESS)
    # The thread that asked is left as it was.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


class CountingHasher:
    """A hasher that notes how many of its verifications run at once."""

    def __init__(self, hasher: Any) -> None:
        self.hasher = hasher
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def verify(self, stored: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return bool(self.hasher.verify(stored, password))


def test_no_more_hashes_run_at_once_than_there_are_cpus(
    passwords: Passwords, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = passwords.hash("pw")
    counting = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counting)
    # Another instance (another runtime) shares the process's hashing threads.
    other = cheap_passwords(tmp_path)
    monkeypatch.setattr(other, "_hasher", counting)
    cpus = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=cpus * 4) as pool:
        outcomes = list(
            pool.map(
                lambda i: (passwords if i % 2 else other).verify(stored, "pw"), range(cpus * 8)
            )
        )
    assert all(outcomes)
    assert counting.most == cpus
