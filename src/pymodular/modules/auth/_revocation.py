"""Revoked tokens: by token id (``jti``) until the token would expire, or by subject.

In memory, per process. Verified tokens served from the verifier's cache are checked
here on every hit, so a revocation takes effect on the next request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ("Revocations",)


class Revocations:
    """Token ids and subjects whose tokens are no longer accepted.

    ``revoke(jti, until)`` refuses one token until ``until`` (its expiry: after that it
    is refused anyway, so the entry is dropped). ``revoke_subject(sub)`` refuses every
    token of ``sub`` issued at or before now (a "log out everywhere").
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._ids: dict[str, float] = {}
        self._subjects: dict[str, float] = {}
        self._lock = threading.Lock()
        self.version = 0
        """Increases with every change."""
        self.active = False
        """Whether anything is revoked at all (read on every verification, so a field)."""

    def revoke(self, jti: str, until: float | None = None) -> None:
        """Refuse the token ``jti`` until ``until`` (epoch seconds; default: a day)."""
        now = self._clock()
        with self._lock:
            self._ids[jti] = until if until is not None else now + 86400.0
            self.version += 1
            self.active = True
            if len(self._ids) % 1024 == 0:
                self._purge(now)

    def revoke_subject(self, subject: str, *, issued_before: float | None = None) -> None:
        """Refuse every token of ``subject`` issued at or before ``issued_before`` (now)."""
        with self._lock:
            self._subjects[subject] = issued_before if issued_before is not None else self._clock()
            self.version += 1
            self.active = True

    def is_revoked(self, jti: str | None, subject: str | None, issued_at: float | None) -> bool:
        """Whether a token with these claims has been revoked."""
        if jti is not None and jti in self._ids:
            return True
        if subject is not None and self._subjects:
            cutoff = self._subjects.get(subject)
            if cutoff is not None and (issued_at is None or issued_at <= cutoff):
                return True
        return False

    def _purge(self, now: float) -> None:
        for jti in [j for j, until in self._ids.items() if until <= now]:
            del self._ids[jti]
        self.active = bool(self._ids or self._subjects)

    def __len__(self) -> int:
        return len(self._ids) + len(self._subjects)

    def __bool__(self) -> bool:
        return bool(self._ids or self._subjects)
