"""PasswordHasher: Argon2id hashes, checks, rehash detection, off the event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pymodular.modules.auth import AuthConfigError, PasswordHasher
from pymodular.secrets import Secret

FAST = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def test_hash_and_verify() -> None:
    hasher = PasswordHasher(**FAST)
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert hasher.verify(stored, "correct horse battery staple")
    assert not hasher.verify(stored, "Correct horse battery staple")
    assert hasher.verify(stored, Secret("correct horse battery staple"))
    assert hasher.hash("correct horse battery staple") != stored  # salted


def test_parameters_changes_ask_for_a_rehash() -> None:
    stored = PasswordHasher(**FAST).hash("password-1")
    assert not PasswordHasher(**FAST).needs_rehash(stored)
    assert PasswordHasher(**{**FAST, "time_cost": 2}).needs_rehash(stored)


def test_bad_input_is_refused_clearly() -> None:
    hasher = PasswordHasher(**FAST, min_length=10)
    with pytest.raises(ValueError, match="at least 10"):
        hasher.hash("short")
    with pytest.raises(ValueError, match="at most"):
        hasher.hash("x" * 5000)
    with pytest.raises(TypeError):
        hasher.hash(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(AuthConfigError, match="not an Argon2 hash"):
        hasher.verify("plain-text-stored", "whatever-password")
    assert not hasher.verify(hasher.hash("password-long"), "x" * 10)


async def test_the_async_methods_run_in_a_worker_thread() -> None:
    hasher = PasswordHasher(**FAST)
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = hasher.hash

    def spy(password: str) -> str:
        seen.append(threading.get_ident())
        return original(password)

    hasher.hash = spy  # type: ignore[method-assign]
    stored = await hasher.hash_async("password-async")
    assert seen
    assert seen[0] != loop_thread
    results = await asyncio.gather(
        *(hasher.verify_async(stored, p) for p in ("password-async", "nope-nope"))
    )
    assert results == [True, False]
    assert "password" not in repr(hasher)
