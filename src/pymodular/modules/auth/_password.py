"""Password hashing with Argon2id (argon2-cffi), for applications that keep users.

Hashing is deliberately slow (tens of milliseconds, tens of MiB): the async methods run
it in a worker thread so the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymodular.modules.auth.errors import AuthConfigError
from pymodular.secrets import Secret

__all__ = ("PasswordHasher",)


class PasswordHasher:
    """Hash and check passwords (Argon2id, RFC 9106's second recommended parameters).

    ::

        hasher = PasswordHasher()
        stored = await hasher.hash_async("correct horse battery staple")
        assert await hasher.verify_async(stored, "correct horse battery staple")
        if hasher.needs_rehash(stored):        # parameters were raised since
            stored = await hasher.hash_async(password)

    ``min_length`` refuses shorter passwords when hashing (``ValueError``); checking
    never raises for a wrong password, it returns False.
    """

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_cost: int = 65536,
        parallelism: int = 4,
        min_length: int = 8,
        max_length: int = 1024,
    ) -> None:
        from argon2 import PasswordHasher as Argon2

        self.min_length = min_length
        self.max_length = max_length
        self._argon2 = Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)

    def hash(self, password: str | Secret[str]) -> str:
        """The encoded Argon2id hash of ``password`` (salt and parameters included)."""
        value = self._plain(password)
        if len(value) < self.min_length:
            raise ValueError(f"a password needs at least {self.min_length} characters")
        return self._argon2.hash(value)

    def verify(self, stored: str, password: str | Secret[str]) -> bool:
        """Whether ``password`` matches ``stored``; False for a wrong one.

        Raises :class:`AuthConfigError` when ``stored`` is not an Argon2 hash at all.
        """
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(self._argon2.verify(stored, self._plain(password)))
        except VerificationError:
            return False
        except InvalidHashError:
            raise AuthConfigError("the stored password hash is not an Argon2 hash") from None

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than this hasher's."""
        return bool(self._argon2.check_needs_rehash(stored))

    async def hash_async(self, password: str | Secret[str]) -> str:
        """:meth:`hash` in a worker thread."""
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, stored: str, password: str | Secret[str]) -> bool:
        """:meth:`verify` in a worker thread."""
        return await asyncio.to_thread(self.verify, stored, password)

    def _plain(self, password: Any) -> str:
        value = password.reveal() if isinstance(password, Secret) else password
        if not isinstance(value, str):
            raise TypeError("a password is text")
        if len(value) > self.max_length:
            raise ValueError(f"a password has at most {self.max_length} characters")
        return value

    def __repr__(self) -> str:
        params = self._argon2
        return (
            f"<PasswordHasher argon2id t={params.time_cost} m={params.memory_cost} "
            f"p={params.parallelism}>"
        )
