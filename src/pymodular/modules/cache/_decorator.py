"""``@cached``: cache an async function's results under keys built from its arguments.

::

    @cache.cached(ttl=60, key="user:{user_id}")
    async def load_user(user_id: int) -> User: ...

    await load_user(7)                    # loads, stores under "user:7"
    await load_user(7)                    # from the cache, a User again
    await load_user.invalidate(7)         # drop it

Keys: a format template over the bound arguments (``"user:{user_id}"``), a callable
taking the same arguments, or (default) ``<module>.<qualname>:<arguments>`` for
arguments that are ``str``, ``int``, ``float``, ``bool`` or ``None`` (anything else
needs ``key=``). Default keys longer than ``max_key_length`` are hashed (SHA-256).
The return annotation types the cached values (``typed=False`` keeps plain JSON data).
Calls go through :meth:`Cache.get_or_set`: one load per key at a time.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pymodular.modules.cache._policy import DEFAULT, Default
from pymodular.modules.cache._serializer import Serializer, TypedSerializer

if TYPE_CHECKING:
    from pymodular.modules.cache._cache import Cache

__all__ = ("CachedFunction", "KeyBuilder", "cached")

R = TypeVar("R")
KeyBuilder = Callable[..., str]
"""Builds a key from the decorated function's arguments."""

_SIMPLE = (str, int, float, bool, type(None))


class CachedFunction(Generic[R]):
    """An async function whose results are cached; call it like the function."""

    def __init__(
        self,
        func: Callable[..., Awaitable[R]],
        source: Cache[Any] | Callable[[], Cache[Any]],
        ttl: float | Default | None,
        key: str | KeyBuilder | None,
        typed: bool,
    ) -> None:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@cached needs an async function, got {func!r}")
        functools.update_wrapper(self, func)
        self.__wrapped__ = func
        self._func = func
        self._source = source
        self._ttl = ttl
        self._key = key
        self._typed = typed
        self._signature = inspect.signature(func)
        self._name = f"{func.__module__}.{func.__qualname__}"
        self._serializer: Serializer[Any] | bool | None = None if typed else False

    def _cache(self) -> Cache[Any]:
        from pymodular.modules.cache._cache import Cache

        source = self._source
        cache = source if isinstance(source, Cache) else source()
        serializer = self._serializer
        if serializer is None:
            serializer = self._serializer = _return_serializer(self._func)
        return cache if serializer is False else cache.typed(None, serializer)  # type: ignore[arg-type]

    def key_for(self, *args: Any, **kwargs: Any) -> str:
        """The key a call with these arguments is cached under (before the cache's prefix)."""
        key = self._key
        if callable(key):
            return key(*args, **kwargs)
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if key is not None:
            return key.format(**bound.arguments)
        parts = []
        for name, value in bound.arguments.items():
            if not isinstance(value, _SIMPLE):
                raise TypeError(
                    f"@cached {self._name}: argument {name!r} is a {type(value).__name__}; "
                    "default keys take str, int, float, bool or None: pass key=..."
                )
            parts.append(f"{name}={value!r}")
        return f"{self._name}:{','.join(parts)}"

    async def __call__(self, *args: Any, **kwargs: Any) -> R:
        cache = self._cache()
        key = _fit(self.key_for(*args, **kwargs), cache.policy.max_key_length, self._name)
        return await cache.get_or_set(key, lambda: self._func(*args, **kwargs), self._ttl)  # type: ignore[no-any-return]

    async def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Drop the cached result of a call with these arguments; whether there was one."""
        cache = self._cache()
        key = _fit(self.key_for(*args, **kwargs), cache.policy.max_key_length, self._name)
        return await cache.delete(key)


def _fit(key: str, limit: int, name: str) -> str:
    if len(key) <= limit and key.isprintable():
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    hashed = f"{name}:sha256:{digest}"
    return hashed if len(hashed) <= limit else f"sha256:{digest}"


def _return_serializer(func: Callable[..., Any]) -> Serializer[Any] | bool:
    try:
        hints = typing.get_type_hints(func)
    except (NameError, TypeError):
        return False
    returned = hints.get("return", Any)
    if returned in (Any, object, None, type(None)):
        return False
    return TypedSerializer(returned)


def cached(
    cache: Cache[Any] | Callable[[], Cache[Any]],
    ttl: float | Default | None = DEFAULT,
    *,
    key: str | KeyBuilder | None = None,
    typed: bool = True,
) -> Callable[[Callable[..., Awaitable[R]]], CachedFunction[R]]:
    """Cache an async function's results in ``cache``.

    ``cache`` is a :class:`Cache` or a zero-argument callable returning one at each call
    (``lambda: app.services.get(TenantCache)`` caches per tenant). ``ttl`` as in
    :meth:`Cache.set`; ``key`` a template or builder (see the module docstring).
    """

    def decorate(func: Callable[..., Awaitable[R]]) -> CachedFunction[R]:
        return CachedFunction(func, cache, ttl, key, typed)

    return decorate
