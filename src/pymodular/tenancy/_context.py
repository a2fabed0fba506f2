"""Tenant context (FR-015): ``with app.tenants.use("acme"):`` and friends.

The tenant lives in the core's ``current_tenant`` context variable, which log records
and events already read. Context variables flow through ``await`` chains and are
copied into tasks created inside the context (``asyncio.create_task``,
``TaskGroup``, ``asyncio.to_thread``), so the tenant follows the work.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from pymodular._context import current_tenant
from pymodular.tenancy._generation import Generation
from pymodular.tenancy.errors import TenantContextError

if TYPE_CHECKING:
    from pymodular.tenancy._registry import TenantRegistry

__all__ = ("TenantScope", "current_tenant_id", "require_tenant")

P = ParamSpec("P")
R = TypeVar("R")

# Bound once: entering a tenant context is on every request's path.
_set_tenant = current_tenant.set
_reset_tenant = current_tenant.reset


def current_tenant_id() -> str | None:
    """The tenant the current call chain works for, or ``None`` outside any tenant context."""
    tenant = current_tenant.get()
    return None if tenant is None else str(tenant)


def require_tenant() -> str:
    """The current tenant id; raises :class:`TenantContextError` outside a tenant context."""
    tenant = current_tenant.get()
    if tenant is None:
        raise TenantContextError(
            "this needs a tenant context and none is active; wrap the call in "
            "`with app.tenants.use(tenant_id):`",
            kind="missing_context",
        )
    return str(tenant)


class TenantScope:
    """A tenant context: a sync and async context manager, and a decorator.

    ::

        with app.tenants.use("acme"): ...
        async with app.tenants.use("acme"): ...

        @app.tenants.use("acme")
        async def nightly_report() -> None: ...

    Entering looks the tenant up (an unknown or removed tenant raises
    :class:`~pymodular.tenancy.TenantNotFoundError`, a tenant whose configuration
    failed raises :class:`~pymodular.tenancy.TenantConfigError`, and before the
    tenants load or once the application stops it raises
    :class:`~pymodular.errors.StateError`) and pins its current generation:
    configuration and tenant-scoped services seen inside stay those of that
    generation even if the tenant is updated meanwhile. One object can be
    entered once at a time; the decorator form enters a fresh one per call.
    """

    __slots__ = ("_gen", "_registry", "_tenant", "_token")

    def __init__(self, registry: TenantRegistry, tenant: str) -> None:
        self._registry = registry
        self._tenant = tenant
        self._token: Token[str | None] | None = None

    @property
    def tenant(self) -> str:
        """The tenant id this context is for."""
        return self._tenant

    def __enter__(self) -> TenantScope:
        if self._token is not None:
            raise RuntimeError(
                f"this tenant context for {self._tenant!r} is already entered; "
                "call use() again for a nested context"
            )
        try:
            gen = self._registry._active[self._tenant]
        except (KeyError, TypeError):
            raise self._registry._unavailable(self._tenant) from None
        gen.users.append(None)  # list.append/pop are atomic: contexts may live in threads
        self._gen = gen
        self._token = _set_tenant(gen.key)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._token
        if token is None:
            return
        self._token = None
        _reset_tenant(token)
        gen = self._gen
        users = gen.users
        users.pop()
        if gen.retired and not users:
            gen.drained()

    async def __aenter__(self) -> TenantScope:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` (sync or async) so every call runs inside this tenant's context."""
        registry, tenant = self._registry, self._tenant
        if inspect.isasyncgenfunction(fn):
            raise TypeError(
                "use(...) cannot decorate an async generator (the context would leak "
                "across its yields); enter the context inside it instead"
            )
        if inspect.iscoroutinefunction(fn):
            coro = cast("Callable[P, Any]", fn)

            @functools.wraps(fn)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with TenantScope(registry, tenant):
                    return await coro(*args, **kwargs)

            return cast("Callable[P, R]", run_async)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with TenantScope(registry, tenant):
                return fn(*args, **kwargs)

        return run

    def __repr__(self) -> str:
        state = "entered" if self._token is not None else "idle"
        return f"<TenantScope {self._tenant!r} {state}>"


def pin(gen: Generation) -> Token[str | None]:
    """Enter ``gen`` directly (used while a tenant is being added, updated or removed)."""
    gen.users.append(None)
    return current_tenant.set(gen.key)


def unpin(gen: Generation, token: Token[str | None]) -> None:
    """Leave a context entered with :func:`pin`."""
    current_tenant.reset(token)
    gen.users.pop()
    if gen.retired and not gen.users:
        gen.drained()
