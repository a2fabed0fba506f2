"""A JWK set fetched over HTTP: cached, refreshed in the background, refetched on a new ``kid``.

:class:`JwksKeySource` is a :class:`KeySource` for the verifier. What it decides (when
to refetch, how long to back off, whether the set is stale) is in the pure functions
:func:`refetch_delay`, :func:`refresh_delay` and :func:`staleness`; the class around them
only fetches and swaps.

- **Serve the last good set.** A failed fetch (refused, timed out, an error status, a
  document that is not a JWK set or has no usable key) changes nothing: the keys fetched
  last keep verifying, and the source reports itself stale until a fetch succeeds.
- **Unknown ``kid``.** A token naming a key the set does not have asks for a refetch
  (:meth:`JwksKeySource.refresh_for`). Refetches start at most once per
  ``min_refetch`` seconds; a caller arriving inside that window waits for the next
  allowed fetch instead of failing, and concurrent callers share one fetch. A key
  published before its first token is used is therefore never refused, and a flood of
  made-up key ids costs the issuer one request per window.
- **Generations.** The set's generation changes only when a key is removed or its
  material changes, so verified tokens stay cached across refreshes that only add keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pymodular.modules.auth._fetch import MAX_ANSWER_BYTES, FetchError, exchange, new_client
from pymodular.modules.auth._keys import JwtKey, KeyRing, load_jwks
from pymodular.modules.auth.errors import AuthConfigError, KeysUnavailableError
from pymodular.secrets import redact

__all__ = (
    "CombinedKeys",
    "FetchError",
    "JwksKeySource",
    "refetch_delay",
    "refresh_delay",
    "staleness",
)

logger = logging.getLogger("pymodular.auth")

_BACKOFF_BASE = 0.5
_MAX_ROUNDS = 8

Staleness = Literal["missing", "fresh", "stale"]


# -- decisions (pure) ------------------------------------------------------------------------


def refetch_delay(now: float, last_attempt: float | None, min_interval: float) -> float:
    """Seconds before a refetch for an unknown key id may start (0: now)."""
    if last_attempt is None:
        return 0.0
    return max(0.0, last_attempt + min_interval - now)


def refresh_delay(interval: float, failures: int, min_interval: float) -> float:
    """Seconds until the next background refresh: the interval, or a doubling back-off
    (from ``max(min_interval, 0.5)``, capped at the interval) after failed fetches."""
    if failures <= 0:
        return interval
    base = max(min_interval, _BACKOFF_BASE)
    return min(interval, base * 2.0 ** min(failures - 1, 30))


def staleness(
    now: float, fetched_at: float | None, last_failed: bool, interval: float
) -> Staleness:
    """``missing`` without any set, ``stale`` when the last fetch failed or the set is
    older than two refresh intervals, else ``fresh``."""
    if fetched_at is None:
        return "missing"
    if last_failed or now - fetched_at > 2 * interval:
        return "stale"
    return "fresh"


# -- fetching ---------------------------------------------------------------------------------


def _fingerprint(key: JwtKey) -> str:
    # A fetched set holds public keys only (parse_jwks drops "oct" entries).
    return json.dumps(key.public_jwk(), sort_keys=True)


def parse_jwks(body: bytes) -> list[JwtKey]:
    """The verification keys of a fetched document; raises :class:`FetchError`."""
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError("the answer is not JSON") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise FetchError("the answer is not a JWK set (an object with a 'keys' list)")
    entries = [e for e in document["keys"] if isinstance(e, Mapping) and e.get("kty") != "oct"]
    try:
        keys = load_jwks({"keys": entries})
    except AuthConfigError as exc:
        raise FetchError(exc.message) from None
    if not keys:
        raise FetchError("the JWK set has no usable signature key")
    kids = [k.kid for k in keys]
    if len(set(kids)) != len(kids):
        raise FetchError("two keys of the JWK set have the same id")
    return keys


class JwksKeySource:
    """The keys of the JWK set at ``url``, kept current (see the module docstring).

    ``start()`` fetches once (a failure is recorded, not raised) and starts the
    background refresh; ``aclose()`` stops it. ``on_change(added, removed)`` is called
    when a fetch changes the set; ``on_failure(error, first)`` when a fetch fails
    (``first``: the previous one succeeded).
    """

    def __init__(
        self,
        url: str,
        *,
        refresh_interval: float = 300.0,
        min_refetch: float = 1.0,
        timeout: float = 5.0,
        max_bytes: int = MAX_ANSWER_BYTES,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[list[str], list[str]], None] | None = None,
        on_failure: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.url = url
        self.refresh_interval = refresh_interval
        self.min_refetch = min_refetch
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = client
        self._own_client = client is None
        self._clock = clock
        self._on_change = on_change
        self._on_failure = on_failure
        self._ring = KeyRing()
        self._prints: dict[str | None, str] = {}
        self._generation = 0
        self._inflight: asyncio.Task[bool] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self.fetched_at: float | None = None
        self.last_attempt: float | None = None
        self.last_error: str | None = None
        self.failures = 0
        self.fetches = 0

    # -- KeySource --------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Changes when a key is removed or replaced (not when one is only added)."""
        return self._generation

    def candidates(self, kid: str | None, alg: str) -> Sequence[JwtKey]:
        """The keys of the current set that may have signed a token with ``kid``/``alg``."""
        return self._ring.candidates(kid, alg)

    @property
    def keys(self) -> list[JwtKey]:
        """The current set's keys."""
        return self._ring.keys

    def knows(self, kid: str | None) -> bool:
        """Whether the current set has a key with id ``kid``."""
        return any(k.kid == kid for k in self._ring.keys)

    # -- fetching ---------------------------------------------------------------------------

    async def refresh(self) -> bool:
        """Fetch the set now (or join the fetch under way); True when it succeeded."""
        task = self._inflight
        if task is None:
            task = self._inflight = asyncio.get_running_loop().create_task(self._fetch())
            task.add_done_callback(self._fetched)
        return await asyncio.shield(task)

    def _fetched(self, task: asyncio.Task[bool]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def refresh_for(self, kid: str | None) -> bool:
        """Refetch because a token names ``kid``, which the set lacks (rate limited).

        True when the set has ``kid`` afterwards. Raises :class:`KeysUnavailableError`
        when no set was ever fetched and this fetch failed too.
        """
        arrived = self._clock()
        for _ in range(_MAX_ROUNDS):
            if self.knows(kid):
                return True
            inflight = self._inflight
            if inflight is not None:
                await asyncio.shield(inflight)
                if self.last_attempt is not None and self.last_attempt >= arrived:
                    break  # a fetch that began after this token arrived has answered
                continue
            delay = refetch_delay(self._clock(), self.last_attempt, self.min_refetch)
            if delay > 0:
                if self.fetched_at is None:
                    break  # no set at all and the endpoint just failed: do not queue up
                await asyncio.sleep(delay)
                continue
            await self.refresh()
            break
        if self.fetched_at is None:
            raise KeysUnavailableError(
                "the JWK set could not be fetched and none is cached",
                mechanism="jwt",
                url=redact(self.url),
            )
        return self.knows(kid)

    async def _fetch(self) -> bool:
        self.last_attempt = self._clock()
        self.fetches += 1
        try:
            keys = parse_jwks(await self._download())
        except FetchError as exc:
            self._failed(str(exc))
            return False
        self._install(keys)
        return True

    async def _download(self) -> bytes:
        if self._client is None:
            self._client = new_client(self.timeout)
        answer = await exchange(
            self._client, "GET", self.url, timeout=self.timeout, max_bytes=self.max_bytes
        )
        if answer.status != 200:
            raise FetchError(f"the server answered {answer.status}")
        return answer.body

    def _install(self, keys: list[JwtKey]) -> None:
        prints = {k.kid: _fingerprint(k) for k in keys}
        before = self._prints
        removed = sorted(str(kid) for kid, p in before.items() if prints.get(kid) != p)
        added = sorted(str(kid) for kid, p in prints.items() if before.get(kid) != p)
        self._ring = KeyRing(keys)
        self._prints = prints
        if removed:
            self._generation += 1
        first = self.fetched_at is None
        self.fetched_at = self._clock()
        recovered = self.failures > 0
        self.failures = 0
        self.last_error = None
        if recovered:
            logger.info("the JWK set at %s is fetched again", redact(self.url))
        if (added or removed) and not first and self._on_change is not None:
            self._on_change(added, removed)

    def _failed(self, reason: str) -> None:
        first = self.failures == 0
        self.failures += 1
        self.last_error = reason
        if first:
            logger.warning(
                "cannot fetch the JWK set at %s: %s (%s)",
                redact(self.url),
                reason,
                "serving the last good set" if self.fetched_at is not None else "no keys yet",
            )
        if self._on_failure is not None:
            self._on_failure(reason, first)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Fetch once and start refreshing in the background."""
        await self.refresh()
        if self._refresher is None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(
                refresh_delay(self.refresh_interval, self.failures, self.min_refetch)
            )
            await self.refresh()

    async def aclose(self) -> None:
        """Stop refreshing and close the HTTP client this source made."""
        tasks = [t for t in (self._refresher, self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._refresher = self._inflight = None
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- reporting --------------------------------------------------------------------------

    def staleness(self) -> Staleness:
        """``missing``, ``fresh`` or ``stale`` (see :func:`staleness`)."""
        return staleness(self._clock(), self.fetched_at, self.failures > 0, self.refresh_interval)

    def describe(self) -> dict[str, Any]:
        """State for ``app.inspect()`` and health (no key material)."""
        now = self._clock()
        return {
            "url": redact(self.url),
            "state": self.staleness(),
            "keys": [k.kid for k in self._ring.keys],
            "age_seconds": round(now - self.fetched_at, 3) if self.fetched_at else None,
            "fetches": self.fetches,
            "failures": self.failures,
            "last_error": self.last_error,
        }

    def __repr__(self) -> str:
        return f"<JwksKeySource {redact(self.url)!r} {len(self._ring)} keys>"


class CombinedKeys:
    """Static keys first, then a fetched set: one :class:`KeySource` for the verifier."""

    def __init__(self, static: KeyRing, fetched: JwksKeySource) -> None:
        self.static = static
        self.fetched = fetched

    @property
    def generation(self) -> int:
        """Changes whenever either source's generation does (both only grow)."""
        return self.static.generation + self.fetched.generation

    def candidates(self, kid: str | None, alg: str) -> Sequence[JwtKey]:
        """The static keys that match, then the fetched ones."""
        static = self.static.candidates(kid, alg)
        fetched = self.fetched.candidates(kid, alg)
        if not static:
            return fetched
        return [*static, *fetched] if fetched else static

    async def refresh_for(self, kid: str | None) -> bool:
        """Refetch the fetched set for ``kid``."""
        return await self.fetched.refresh_for(kid)
