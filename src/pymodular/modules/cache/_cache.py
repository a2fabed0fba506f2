"""``Cache``: the one async API over every engine (keys, values, TTLs, views).

A module builds one root :class:`Cache` per application; views share its backend,
policy, counters and loads in flight, and differ by key prefix and serializer:

- ``cache.namespace("users")`` — keys under ``users:``;
- ``cache.typed(User)`` — values read back as ``User`` (pydantic validation);
- ``cache.for_tenant("acme")`` — acme's keys, invisible to every other tenant
  (the tenant-scoped :class:`TenantCache` service is this view for the current tenant).

Full keys are ``<key_prefix>:g:<key>`` for the application and
``<key_prefix>:t:<tenant>:<key>`` for a tenant, so no key of one can name a key of
another (tenant ids hold no ``:``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from pymodular.modules.cache._flight import Flights
from pymodular.modules.cache._policy import DEFAULT, CachePolicy, Default, bad_key
from pymodular.modules.cache._serializer import JsonSerializer, Serializer, TypedSerializer
from pymodular.modules.cache.errors import CacheUnavailableError, CacheValueError, shown_key

if TYPE_CHECKING:
    from pymodular.modules.cache._backend import CacheBackend
    from pymodular.modules.cache._decorator import CachedFunction, KeyBuilder
    from pymodular.tenancy import TenantGuard

__all__ = ("Cache", "CacheStats", "TenantCache")

T = TypeVar("T")
U = TypeVar("U")
D = TypeVar("D")
_MISS: Any = object()


class CacheStats:
    """Counters shared by every view of one cache."""

    __slots__ = ("deletes", "hits", "loads", "misses", "sets")

    def __init__(self) -> None:
        self.hits = self.misses = self.sets = self.deletes = self.loads = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}


class _Shared:
    """What every view of one cache shares; ``policy`` is swapped on reload."""

    __slots__ = ("admit", "backend", "flights", "peek", "policy", "root_prefix", "stats")

    def __init__(self, backend: CacheBackend, policy: CachePolicy, root_prefix: str) -> None:
        # Which tenant's view code running now may have when it asks for ``requested``'s
        # (the application's tenant guard; None: any, as without tenancy).
        self.admit: Callable[[str], str] | None = None
        self.backend = backend
        self.peek = None if backend.get_nowait is None else backend.get_nowait  # a bound method
        self.policy = policy
        self.root_prefix = root_prefix
        self.stats = CacheStats()
        self.flights = Flights()


class Cache(Generic[T]):
    """An async cache: ``get``, ``set`` with TTL, ``delete``, bulk forms, ``incr``,
    ``get_or_set`` with stampede protection and the :meth:`cached` decorator.

    ``ttl`` arguments take seconds, ``None`` (never expires) or :data:`DEFAULT` (the
    configured ``default_ttl``). Errors: :class:`CacheKeyError` for a bad key,
    :class:`CacheValueError` for a value that cannot be stored or read back,
    :class:`CacheUnavailableError` while the backend is down (unless a local tier
    serves), :class:`CacheBackendError` for other backend failures. A call that raises
    stores nothing.
    """

    __slots__ = ("_dumps", "_loads", "_prefix", "_serializer", "_shared")

    def __init__(
        self,
        backend: CacheBackend,
        *,
        prefix: str = "app",
        policy: CachePolicy | None = None,
        serializer: Serializer[T] | None = None,
    ) -> None:
        shared = _Shared(backend, policy or CachePolicy(), f"{prefix}:")
        self._bind(shared, f"{prefix}:g:", serializer or JsonSerializer())

    def _bind(self, shared: _Shared, prefix: str, serializer: Serializer[T]) -> None:
        self._shared = shared
        self._prefix = prefix
        self._serializer = serializer
        self._dumps = serializer.dumps
        self._loads = serializer.loads

    def _view(self, cls: type[Cache[U]], prefix: str, serializer: Serializer[U]) -> Cache[U]:
        view = cls.__new__(cls)
        view._bind(self._shared, prefix, serializer)
        return view

    # -- views ---------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        """The prefix of this view's full keys."""
        return self._prefix

    @property
    def backend(self) -> CacheBackend:
        """The engine behind the cache."""
        return self._shared.backend

    @property
    def policy(self) -> CachePolicy:
        """The limits in force (the module replaces them on reload)."""
        return self._shared.policy

    @policy.setter
    def policy(self, policy: CachePolicy) -> None:
        self._shared.policy = policy

    @property
    def stats(self) -> CacheStats:
        """Hits, misses, sets, deletes and loads of every view of this cache."""
        return self._shared.stats

    @property
    def serializer(self) -> Serializer[T]:
        """How values become bytes."""
        return self._serializer

    def namespace(self, name: str) -> Cache[T]:
        """A view whose keys live under ``name:`` (``clear()`` there clears only them)."""
        self._full(name, "namespace")
        return self._view(type(self), f"{self._prefix}{name}:", self._serializer)

    def typed(self, type_: type[U] | Any, serializer: Serializer[U] | None = None) -> Cache[U]:
        """A view reading values back as ``type_`` (pydantic models round-trip)."""
        return self._view(type(self), self._prefix, serializer or TypedSerializer(type_))

    def guard_tenants(self, guard: TenantGuard) -> None:
        """Put :meth:`for_tenant` under the application's tenant ``guard`` (every view
        shares it; the cache module does this when the application has tenancy)."""
        from pymodular._context import current_tenant

        def admit(requested: str) -> str:
            current = current_tenant.get()
            admitted = guard.admit("the cache", current, requested)  # strict raises here
            return admitted if admitted is not None else (current or requested)

        self._shared.admit = admit

    def for_tenant(self, tenant: str | None) -> TenantCache[T]:
        """The view of ``tenant``'s keys, disjoint from the application's and other tenants'.

        ``None`` gives the view shared by code running without a tenant under a
        permissive guard (keys ``<key_prefix>:s:...``), never a tenant's.

        Inside one tenant's context, asking for another tenant's view goes through the
        application's tenant guard: ``strict`` raises ``TenantIsolationError``,
        ``permissive`` records the violation and gives the current tenant's own view.
        Code outside any tenant context (administration, jobs) may open any tenant's.
        """
        root = self._shared.root_prefix
        if tenant is None:
            prefix = f"{root}s:"
        else:
            from pymodular.tenancy import check_tenant_id

            admit = self._shared.admit
            if admit is not None:
                tenant = admit(tenant)
            prefix = f"{root}t:{check_tenant_id(tenant)}:"
        return self._view(TenantCache, prefix, self._serializer)  # type: ignore[return-value]

    # -- checks --------------------------------------------------------------------------

    def _full(self, key: str, operation: str) -> str:
        if type(key) is str and 0 < len(key) <= self._shared.policy.max_key_length:  # noqa: SIM102
            if key.isprintable():
                return self._prefix + key
        raise bad_key(key, self._shared.policy.max_key_length, operation)

    def _encode(self, key: str, value: T, operation: str) -> bytes:
        try:
            data = self._dumps(value)
        except (TypeError, ValueError) as exc:
            raise CacheValueError(
                f"{operation}: the value for {shown_key(key)} cannot be serialized by "
                f"{type(self._serializer).__name__} ({type(value).__name__}: {exc}); "
                "nothing was stored",
                reason="not_serializable",
                operation=operation,
            ) from exc
        return self._shared.policy.value(data, key, operation)

    def _decode(self, key: str, data: bytes, operation: str) -> T:
        try:
            return self._loads(data)
        except (TypeError, ValueError) as exc:
            raise CacheValueError(
                f"{operation}: the stored value of {shown_key(key)} cannot be read by "
                f"{self._serializer!r}: {type(exc).__name__}",
                reason="undecodable",
                operation=operation,
            ) from exc

    # -- reads ---------------------------------------------------------------------------

    @overload
    async def get(self, key: str) -> T | None: ...
    @overload
    async def get(self, key: str, default: D) -> T | D: ...
    async def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` when it is missing or expired."""
        shared = self._shared
        # _full() inlined: this is the hot path of every read.
        if type(key) is not str or not 0 < len(key) <= shared.policy.max_key_length:
            raise bad_key(key, shared.policy.max_key_length, "get")
        if not key.isprintable():
            raise bad_key(key, shared.policy.max_key_length, "get")
        peek = shared.peek
        data = peek(self._prefix + key) if peek else await shared.backend.get(self._prefix + key)
        if data is None:
            shared.stats.misses += 1
            return default
        shared.stats.hits += 1
        try:
            return self._loads(data)
        except (TypeError, ValueError):
            return self._decode(key, data, "get")

    async def get_many(self, keys: Iterable[str]) -> dict[str, T]:
        """The values found among ``keys`` (missing ones are absent), in one round trip."""
        wanted = list(dict.fromkeys(keys))
        shared = self._shared
        limit = shared.policy.max_key_length
        prefix = self._prefix
        # _full() inlined: one check per key, then the full keys in one comprehension.
        for key in wanted:
            if type(key) is not str or not 0 < len(key) <= limit or not key.isprintable():
                raise bad_key(key, limit, "get_many")
        found = await shared.backend.get_many([prefix + key for key in wanted])
        loads = self._loads
        try:
            result: dict[str, T] = {
                key: loads(data)
                for key, data in zip(wanted, found, strict=True)
                if data is not None
            }
        except (TypeError, ValueError):
            for key, data in zip(wanted, found, strict=True):
                if data is not None:
                    self._decode(key, data, "get_many")  # raises for the first bad one
            raise
        stats = shared.stats
        stats.hits += len(result)
        stats.misses += len(wanted) - len(result)
        return result

    # -- writes --------------------------------------------------------------------------

    async def set(self, key: str, value: T, ttl: float | Default | None = DEFAULT) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        shared = self._shared
        full = self._full(key, "set")
        data = self._encode(key, value, "set")
        await shared.backend.set(full, data, shared.policy.ttl(ttl, "set"))
        shared.stats.sets += 1

    async def set_many(
        self,
        items: Mapping[str, T] | Iterable[tuple[str, T]],
        ttl: float | Default | None = DEFAULT,
    ) -> None:
        """Store every pair with one ``ttl``; all are checked before any is stored."""
        pairs = items.items() if isinstance(items, Mapping) else items
        shared = self._shared
        encoded = [
            (self._full(key, "set_many"), self._encode(key, value, "set_many"))
            for key, value in pairs
        ]
        if encoded:
            await shared.backend.set_many(encoded, shared.policy.ttl(ttl, "set_many"))
            shared.stats.sets += len(encoded)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; whether it was there."""
        self._shared.stats.deletes += 1
        return await self._shared.backend.delete(self._full(key, "delete"))

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove ``keys``; how many were there."""
        full = [self._full(key, "delete_many") for key in dict.fromkeys(keys)]
        self._shared.stats.deletes += len(full)
        return await self._shared.backend.delete_many(full) if full else 0

    async def clear(self) -> int:
        """Remove every key of this view (its namespace, its tenant); how many went."""
        return await self._shared.backend.clear(self._prefix)

    async def incr(self, key: str, delta: int = 1, ttl: float | Default | None = DEFAULT) -> int:
        """Add ``delta`` to the counter under ``key`` (created at 0 with ``ttl``); the result.

        Counters are stored as decimal text, which the JSON serializer reads as an int.
        """
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"incr: delta must be an int, got {delta!r}")
        shared = self._shared
        full = self._full(key, "incr")
        return await shared.backend.incr(full, delta, shared.policy.ttl(ttl, "incr"))

    # -- loading -------------------------------------------------------------------------

    async def get_or_set(
        self,
        key: str,
        loader: Callable[[], Awaitable[T] | T],
        ttl: float | Default | None = DEFAULT,
    ) -> T:
        """The value under ``key``; on a miss, ``loader()``'s result, stored with ``ttl``.

        One load per key runs at a time in this process: callers arriving meanwhile wait
        for it and get its value (or its error). While the backend is unavailable the
        loader still runs and its value is returned, not stored.
        """
        shared = self._shared
        full = self._full(key, "get_or_set")
        store_ttl = shared.policy.ttl(ttl, "get_or_set")
        try:
            data = await shared.backend.get(full)
        except CacheUnavailableError:
            data = None
        if data is not None:
            shared.stats.hits += 1
            try:
                return self._loads(data)
            except (TypeError, ValueError):
                return self._decode(key, data, "get_or_set")
        shared.stats.misses += 1
        return await shared.flights.run(full, lambda: self._load(key, full, loader, store_ttl))

    async def _load(
        self, key: str, full: str, loader: Callable[[], Awaitable[T] | T], ttl: float | None
    ) -> T:
        shared = self._shared
        value = loader()
        if inspect.isawaitable(value):
            value = await value
        shared.stats.loads += 1
        data = self._encode(key, value, "get_or_set")
        try:
            await shared.backend.set(full, data, ttl)
        except CacheUnavailableError:
            return value
        shared.stats.sets += 1
        return value

    def cached(
        self,
        ttl: float | Default | None = DEFAULT,
        *,
        key: str | KeyBuilder | None = None,
        typed: bool = True,
    ) -> Callable[[Callable[..., Awaitable[Any]]], CachedFunction[Any]]:
        """Decorate an async function so its results are cached (see :func:`cached`)."""
        from pymodular.modules.cache._decorator import cached

        return cached(self, ttl, key=key, typed=typed)

    def __repr__(self) -> str:
        engine = self._shared.backend.name
        return f"<{type(self).__name__} prefix={self._prefix!r} backend={engine!r}>"


class TenantCache(Cache[T]):
    """One tenant's view of the cache: the tenant-scoped service's type.

    Inside a tenant context ``app.services.get(TenantCache)`` is the current tenant's
    cache; its keys never meet another tenant's or the application's.
    """

    __slots__ = ()
