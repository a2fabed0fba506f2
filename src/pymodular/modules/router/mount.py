"""``MountModule``: an existing FastAPI, Starlette or Litestar app as a module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pymodular.health import HealthResult
from pymodular.module import Dependency, Extra, Module
from pymodular.modules._http import ASGIApp, Lifespan

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.modules.router._routes import Route

__all__ = ("MountModule",)


class MountModule(Module[None]):
    """Mount ``app`` on the router under ``path`` (and, with ``host``, for that host only),
    with its ASGI lifespan run as this module's start and stop::

        legacy = FastAPI(lifespan=open_pools)               # the app you already have
        app = Application([
            RouterModule(),
            DatabaseModule(),
            MountModule(legacy, name="legacy", path="/legacy", depends_on=("database",)),
            HttpServerModule(),
        ])

    ``start`` returns once the app reported its startup complete (a failed startup fails
    the application's start with the app's message); ``stop`` runs its shutdown, in the
    reverse order of the modules' start like every module's stop, after the server has
    drained. The app shares the server, the router's middleware (request id, CORS,
    tenant, errors) and health: the module reports unhealthy when the app's lifespan
    ends on its own. ``errors`` is ``"problem"`` (its error answers reshaped as
    problem+json) or ``"keep"``. Its ``Depends``/``Provide`` may ask for pymodular
    services with :func:`~pymodular.modules.router.service_dependency`.
    """

    router = Dependency(name="router")
    extra = Extra("http", "starlette")

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str,
        path: str = "/",
        host: str | None = None,
        errors: Literal["problem", "keep"] = "problem",
        depends_on: Sequence[str] = (),
        startup_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.depends_on = ("router", *depends_on)
        self.mounted = app
        self.path = path
        self.host = host
        self.errors: Literal["problem", "keep"] = errors
        where = f"{host or ''}{path}"
        self.lifespan = Lifespan(app, name=f"module {name!r} ({where})", timeout=startup_timeout)
        self.route: Route | None = None

    async def init(self, app: Application) -> None:
        """Mount the app (its lifespan is run by this module, not by the router)."""
        self.route = self.router.mount(
            self.path,
            self.mounted,
            name=self.name,
            host=self.host,
            lifespan=self.lifespan,
            errors=self.errors,
        )

    async def start(self) -> None:
        """Run the app's startup and wait for it."""
        await self.lifespan.startup()

    async def stop(self) -> None:
        """Run the app's shutdown and wait for it."""
        await self.lifespan.shutdown()

    def describe(self) -> dict[str, Any]:
        """Where the app is mounted and whether its lifespan runs, for ``app.inspect()``."""
        return {
            "path": self.path,
            "host": self.host,
            "app": type(self.mounted).__qualname__,
            "lifespan": "running" if self.lifespan.running else "none or stopped",
            "errors": self.errors,
        }

    async def health_report(self) -> HealthResult:
        """Healthy while mounted; unhealthy when the app's lifespan ended on its own."""
        if self.lifespan.supported and not self.lifespan.alive:
            return HealthResult.unhealthy("the app's lifespan ended", path=self.path)
        return HealthResult.healthy(f"mounted at {self.host or ''}{self.path}")
