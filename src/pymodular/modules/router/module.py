"""``RouterModule``: provides the :class:`Router` and installs its built-in middleware."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pymodular.module import Extra, Module
from pymodular.modules._http import ASGIApp
from pymodular.modules.router.config import RouterConfig
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import ConfigDiff
    from pymodular.modules.router._router import Router

__all__ = ("RouterModule",)


class RouterModule(Module[RouterConfig]):
    """The router (module ``router``, section ``router``).

    Provides the service ``"router"`` (interfaces :class:`Router` and
    :class:`~pymodular.modules.httpserver.ASGIApp`), which the httpserver serves.
    Modules add their routes in ``init`` (every ``init`` runs before any ``start``)::

        class Notes(Module):
            router = Dependency(Router)
            async def init(self, app):
                self.router.get("/notes")(self.list_notes)

    Installs from configuration: request id, CORS, error handling, GZip and tenant
    resolution (see :data:`BUILTIN_ORDER` for their order), and serves the OpenAPI
    document and the docs page (``router.openapi``). When the application has
    tenancy enabled, requests run inside ``app.tenants.use(tenant)``; otherwise
    ``tenant_validator`` is asked whether a resolved tenant exists (unknown ones 404).
    Emits ``router.route.*`` and ``router.middleware.*`` events.
    """

    name = "router"
    extra = Extra("http", "starlette")

    def __init__(
        self,
        *,
        tenant_validator: Callable[[str], bool] | None = None,
        name: str | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        self._router: Router | None = None
        self.tenant_validator = tenant_validator

    @property
    def router(self) -> Router:
        """The :class:`Router` (built on first use: Starlette is imported then)."""
        if self._router is None:
            if self.extra is not None:
                self.extra.require(type(self).__qualname__, module=self.name)
            from pymodular.modules.router._router import Router

            self._router = Router()
        return self._router

    def provides(self) -> Sequence[Service[Any]]:
        """The router, by name ``"router"`` and as ``Router`` and ``ASGIApp``."""
        from pymodular.modules.router._router import Router

        return [
            Service(
                "router",
                self.router,
                interface=(Router, ASGIApp),
                description="HTTP routes and middleware",
            )
        ]

    async def init(self, app: Application) -> None:
        """Apply the configuration and install the configured middleware."""
        from starlette.middleware.gzip import GZipMiddleware

        from pymodular.modules.router._request_id import RequestIdMiddleware
        from pymodular.modules.router._tenant import TenantMiddleware

        config = self.config
        router = self.router
        router.announce(self.emit)
        router.services = app.services
        router.base_path = config.base_path
        router.redirect_slashes = config.redirect_slashes
        self._applied = config
        self._apply_dynamic(config)
        if config.request_id.enabled:
            self._use_builtin(
                "request_id",
                RequestIdMiddleware,
                header=config.request_id.header,
                trust_incoming=config.request_id.trust_incoming,
            )
        if config.gzip.enabled:
            self._use_builtin(
                "gzip",
                GZipMiddleware,
                minimum_size=config.gzip.minimum_size,
                compresslevel=config.gzip.compress_level,
            )
        if config.tenant.enabled:
            self._use_builtin(
                "tenant",
                TenantMiddleware,
                config=config.tenant,
                validator=self.tenant_validator,
                tenants=app.tenants if app.tenancy_enabled else None,
            )
        openapi = config.openapi
        router.openapi.title = openapi.title or app.name
        router.openapi.version = openapi.version
        router.openapi.description = openapi.description

    def _use_builtin(self, name: str, middleware: Any, **options: Any) -> None:
        """Install built-in middleware under its name, at its place in :data:`BUILTIN_ORDER`."""
        from pymodular.modules.router._stack import BUILTIN_ORDER

        self.router.use(middleware, name=name, order=BUILTIN_ORDER[name], **options)

    def _apply_dynamic(self, config: RouterConfig) -> None:
        from pymodular.modules.router._cors import CorsMiddleware, CorsPolicy

        router = self.router
        router.debug = config.debug
        router.max_body_bytes = config.max_body_bytes
        if router.has_middleware("cors"):
            router.remove_middleware("cors")
        if config.cors.enabled:
            self._use_builtin("cors", CorsMiddleware, policy=CorsPolicy.from_config(config.cors))

    def describe(self) -> dict[str, Any]:
        """Routes, mounts and middleware, for ``app.inspect()``."""
        return self.router.describe()

    async def start(self) -> None:
        """Serve the OpenAPI document, run the startup of mounted apps, and apply
        ``disabled_routes`` now that every module has added its routes."""
        openapi = self.config.openapi
        if openapi.enabled:
            self.router.serve_openapi(
                openapi.path, docs_path=openapi.docs_path if openapi.docs_enabled else None
            )
            if openapi.docs_enabled and self.config.root_redirect:
                self.router.root_redirect = openapi.docs_path
        await self.router.startup()  # mounted apps' lifespans, in mount order
        unknown = self.router.apply_disabled(self.config.disabled_routes)
        if unknown:
            self.log.warning(
                "router.disabled_routes names routes that do not exist (yet): %s",
                ", ".join(unknown),
            )

    async def stop(self) -> None:
        """Run the shutdown of mounted apps, in reverse order."""
        await self.router.shutdown()

    async def reload(self, diff: ConfigDiff) -> None:
        """Apply changed dynamic fields: debug, body limit, CORS, disabled routes."""
        config = self.config  # the reloader has put the new section in place
        old = self._applied
        self._applied = config
        if (old.debug, old.max_body_bytes, old.cors) != (
            config.debug,
            config.max_body_bytes,
            config.cors,
        ):
            self._apply_dynamic(config)
        if old.disabled_routes != config.disabled_routes:
            self.router.apply_disabled(config.disabled_routes)
