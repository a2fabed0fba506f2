"""Engines of a module, by name: the backend pattern every multi-engine module follows.

A module whose engines differ (cache: memory, redis; event bus: memory, nats, ...)
keeps an abstract backend class in its package, one file per engine under
``backends/``, and one :class:`BackendRegistry` that maps the name a user writes in
configuration to the engine. Built-in engines are registered by import path, so an
engine's third-party package is imported only when that engine is chosen; users add
their own engines with :meth:`BackendRegistry.register` and a factory::

    CACHE_BACKENDS: BackendRegistry[CacheBackend] = BackendRegistry("cache backend")
    CACHE_BACKENDS.register("memory", "pymodular.modules.cache.backends.memory:MemoryBackend")
    CACHE_BACKENDS.register(
        "redis", "pymodular.modules.cache.backends.redis:RedisBackend", extra=Extra("redis")
    )
    backend = CACHE_BACKENDS.create(config.backend, config, field="cache.backend")

Every engine of one registry passes the same conformance suite in
``tests/conformance/<module>/``.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pymodular._extras import Extra
from pymodular.errors import ConfigError, RegistrationError

__all__ = ("BackendRegistry",)

B = TypeVar("B")


@dataclass(frozen=True, slots=True)
class _Entry:
    target: Callable[..., Any] | str
    extra: Extra | None


class BackendRegistry(Generic[B]):
    """Named factories of one kind of backend (``kind`` is used in messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, _Entry] = {}

    def register(
        self,
        name: str,
        factory: Callable[..., B] | str,
        *,
        extra: Extra | None = None,
        replace: bool = False,
    ) -> None:
        """Register ``factory`` (a callable, or ``"package.module:attribute"``) as ``name``.

        ``extra`` names the packages the engine needs; they are checked when the engine
        is chosen, not now. Registering a taken name needs ``replace=True``.
        """
        if not name or not isinstance(name, str):
            raise RegistrationError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries and not replace:
            raise RegistrationError(
                f"a {self.kind} named {name!r} is already registered (pass replace=True)"
            )
        if isinstance(factory, str) and ":" not in factory:
            raise RegistrationError(
                f"{self.kind} {name!r}: {factory!r} is not 'package.module:attribute'"
            )
        self._entries[name] = _Entry(factory, extra)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def factory(self, name: str, *, field: str | None = None) -> Callable[..., B]:
        """The factory registered as ``name``, imported now.

        Raises :class:`~pymodular.errors.ConfigError` for an unknown name (listing the
        known ones, with a did-you-mean) and
        :class:`~pymodular.errors.MissingExtraError` when its packages are missing;
        ``field`` (the configuration field that chose it) is named in both.
        """
        entry = self._entries.get(name)
        if entry is None:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r} (known: {', '.join(self.names()) or 'none'}){hint}",
                field=field,
            )
        if entry.extra is not None:
            entry.extra.require(f"the {self.kind} {name!r}", field=field)
        target = entry.target
        if isinstance(target, str):
            module_name, _, attribute = target.partition(":")
            target = getattr(importlib.import_module(module_name), attribute)
            self._entries[name] = _Entry(target, entry.extra)
        return target

    def create(self, name: str, /, *args: Any, field: str | None = None, **kwargs: Any) -> B:
        """Build the backend registered as ``name`` with ``args`` and ``kwargs``."""
        return self.factory(name, field=field)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<BackendRegistry {self.kind!r} names={self.names()}>"
