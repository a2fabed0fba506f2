"""Module decorators: transparent wrappers around a module's lifecycle calls (FR-018, FR-019).

A decorator sees every lifecycle call of the modules it wraps (``init``, ``start``,
``drain``, ``stop``, ``reload``) and decides what happens around it, the way ASGI middleware wraps
an app. The module object itself is untouched: its identity, its capabilities and
the services it provides stay exactly the same, which is what makes the wrapping
transparent.

Ordering, owned by :func:`order_decorators` alone:

1. higher ``priority`` is outermost (runs first on the way in, last on the way out);
2. equal priorities keep registration order, application-wide decorators before
   module-specific ones; the first registered is outermost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from pymodular._context import current_tenant
from pymodular.errors import error_text

if TYPE_CHECKING:
    from pymodular.events import EventBus, Observer
    from pymodular.module import Module

__all__ = (
    "LoggingDecorator",
    "ModuleDecorator",
    "ObservableDecorator",
    "TenantDecorator",
    "apply_decorators",
    "order_decorators",
)

Call = Callable[[], Awaitable[Any]]


class ModuleDecorator:
    """Base class: override :meth:`around` and call ``call()`` to proceed.

    ``priority`` (default 0) moves a decorator outwards; ``phases`` limits which
    lifecycle calls it wraps (all by default).
    """

    priority: int = 0
    phases: frozenset[str] = frozenset({"init", "start", "drain", "stop", "reload"})

    def __init__(self, *, priority: int | None = None) -> None:
        if priority is not None:
            self.priority = priority

    async def around(self, phase: str, module: Module[Any], call: Call) -> Any:
        """Run ``call`` (the inner lifecycle call) and return its result."""
        return await call()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} priority={self.priority}>"


def order_decorators(decorators: Sequence[ModuleDecorator]) -> list[ModuleDecorator]:
    """Return ``decorators`` outermost first: priority descending, then given order."""
    indexed = list(enumerate(decorators))
    indexed.sort(key=lambda pair: (-pair[1].priority, pair[0]))
    return [decorator for _, decorator in indexed]


def apply_decorators(
    decorators: Sequence[ModuleDecorator], phase: str, module: Module[Any], call: Call
) -> Call:
    """Wrap ``call`` in ``decorators`` (already ordered, outermost first) for ``phase``."""
    wrapped = call
    for decorator in reversed(decorators):
        if phase not in decorator.phases:
            continue
        wrapped = _bind(decorator, phase, module, wrapped)
    return wrapped


def _bind(decorator: ModuleDecorator, phase: str, module: Module[Any], inner: Call) -> Call:
    async def call() -> Any:
        return await decorator.around(phase, module, inner)

    return call


class LoggingDecorator(ModuleDecorator):
    """Logs entry, exit, duration and failure of each lifecycle call."""

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
        priority: int | None = None,
    ) -> None:
        super().__init__(priority=priority)
        self.logger = logger or logging.getLogger("pymodular.lifecycle")
        self.level = level

    async def around(self, phase: str, module: Module[Any], call: Call) -> Any:
        self.logger.log(self.level, "%s %s: begin", module.name, phase)
        began = time.perf_counter()
        try:
            result = await call()
        except Exception as exc:
            self.logger.error(
                "%s %s: failed after %.1f ms: %s",
                module.name,
                phase,
                (time.perf_counter() - began) * 1000,
                exc,
            )
            raise
        self.logger.log(
            self.level,
            "%s %s: done in %.1f ms",
            module.name,
            phase,
            (time.perf_counter() - began) * 1000,
        )
        return result


class ObservableDecorator(ModuleDecorator):
    """Publishes an event before and after each wrapped lifecycle call, and when it fails.

    Event types are ``lifecycle.<phase>.before``, ``lifecycle.<phase>.after`` (with
    ``duration_ms``) and ``lifecycle.<phase>.failed`` (with ``duration_ms`` and
    ``error``), each with the module's name and the phase, so an observer subscribes
    with patterns such as ``lifecycle.start.*`` or ``lifecycle.*.failed``.

    Events go to the application's bus (``app.events``) unless ``observers`` are given:
    then the decorator has a bus of its own (``.events``) with those observers, so a
    sink can watch only the modules this decorator wraps. Delivery is isolated and
    buffered like any observer's (FR-043).
    """

    def __init__(
        self,
        *observers: Observer,
        bus: EventBus | None = None,
        priority: int | None = None,
    ) -> None:
        super().__init__(priority=priority)
        if bus is None and observers:
            from pymodular.events import EventBus

            bus = EventBus()
        for observer in observers:
            assert bus is not None
            bus.subscribe(observer)
        self.events = bus

    async def around(self, phase: str, module: Module[Any], call: Call) -> Any:
        bus = self.events if self.events is not None else module.app.events
        self._publish(bus, f"lifecycle.{phase}.before", module, phase)
        began = time.perf_counter()
        try:
            result = await call()
        except BaseException as exc:
            elapsed = round((time.perf_counter() - began) * 1000, 3)
            error = "cancelled" if isinstance(exc, asyncio.CancelledError) else error_text(exc)
            self._publish(
                bus, f"lifecycle.{phase}.failed", module, phase, duration_ms=elapsed, error=error
            )
            raise
        elapsed = round((time.perf_counter() - began) * 1000, 3)
        self._publish(bus, f"lifecycle.{phase}.after", module, phase, duration_ms=elapsed)
        return result

    @staticmethod
    def _publish(
        bus: EventBus, event_type: str, module: Module[Any], phase: str, **data: Any
    ) -> None:
        from pymodular.events import Event

        bus.emit(Event(event_type, module=module.name, phase=phase, data=data))


class TenantDecorator(ModuleDecorator):
    """Runs the wrapped lifecycle calls inside a tenant context (FR-015)."""

    def __init__(self, tenant: str, *, priority: int | None = None) -> None:
        super().__init__(priority=priority)
        self.tenant = tenant

    async def around(self, phase: str, module: Module[Any], call: Call) -> Any:
        token = current_tenant.set(self.tenant)
        try:
            return await call()
        finally:
            current_tenant.reset(token)
