"""``AdminModule``: inspection, configuration, health, recent events and log levels over HTTP."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

from pymodular.errors import ConfigError
from pymodular.module import Dependency, Extra, Module
from pymodular.modules.admin.config import AdminConfig
from pymodular.secrets import json_safe

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("AdminModule",)

_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")


class AdminModule(Module[AdminConfig]):
    """The ``admin`` module (section ``admin``): off unless ``admin.enabled``.

    When enabled it adds, under ``admin.path`` on the router, JSON endpoints for an
    operator, each requiring ``Authorization: Bearer <admin.token>`` (401 otherwise):

    - ``GET /inspect`` — ``app.inspect()`` (modules, states, services, graph, health,
      configuration with provenance; secrets masked);
    - ``GET /config`` — the configuration fields with their provenance (masked);
    - ``GET /health`` — the health snapshot (when the application has health on);
    - ``GET /events?limit=N`` — the most recent events;
    - ``GET /loggers/{name}`` and ``PUT /loggers/{name}`` with ``{"level": "DEBUG"}`` —
      read and change a logger's level at run time (event ``admin.logger.changed``).

    With ``admin.port`` the routes get a listener of their own (``host``:``port``, the
    server's default limits, no TLS) instead of the application's router; ``server``
    is then that :class:`~pymodular.modules.httpserver.HttpServer` (its ``url``).
    ``pymodular inspect --url URL`` and ``pymodular config check --url URL`` read these.
    """

    name = "admin"
    extra = Extra("http", "starlette")
    router = Dependency(name="router", optional=True)

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.server: Any = None
        self._own: Any = None

    async def init(self, app: Application) -> None:
        """Add the routes (only when enabled): to the application's router, or to a router
        of the module's own when ``admin.port`` is set."""
        config = self.config
        if not config.enabled:
            return
        assert config.token is not None  # the config validator requires it when enabled
        token = config.token.reveal().encode()
        base = config.path
        target = self.router
        if config.port is not None:
            from pymodular.modules.router import Router

            target = self._own = Router()
        elif target is None:
            raise ConfigError(
                "the admin module needs the router module, or admin.port for a listener of its own",
                field=f"{self.section}.port",
            )
        group = target.group(base, name="admin")

        def allowed(request: Any) -> bool:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token)

        def guarded(handler: Any) -> Any:
            async def endpoint(request: Any) -> Any:
                from starlette.responses import JSONResponse

                if not allowed(request):
                    return JSONResponse(
                        {"title": "Unauthorized", "status": 401,
                         "detail": "the admin endpoints need Authorization: Bearer <token>"},
                        status_code=401,
                        headers={"www-authenticate": 'Bearer realm="pymodular admin"'},
                        media_type="application/problem+json",
                    )  # fmt: skip
                return await handler(request)

            endpoint.__name__ = handler.__name__
            return endpoint

        group.get("/inspect", include_in_schema=False)(guarded(self._inspect))
        group.get("/config", include_in_schema=False)(guarded(self._config))
        group.get("/health", include_in_schema=False)(guarded(self._health))
        group.get("/events", include_in_schema=False)(guarded(self._events))
        group.get("/loggers/{name}", include_in_schema=False)(guarded(self._logger))
        group.put("/loggers/{name}", include_in_schema=False)(guarded(self._set_logger))

    async def start(self) -> None:
        """Open the admin listener (with ``admin.port``)."""
        if self._own is None:
            return
        from pymodular.modules.httpserver import HttpServer, HttpServerConfig

        config = self.config
        settings = HttpServerConfig(host=config.host, port=config.port or 0)
        self.server = HttpServer(settings, app=self._own, emit=self.emit)
        await self.server.start()
        self.log.info("admin endpoints listen on %s%s", self.server.url, config.path)

    async def drain(self) -> None:
        """Close the admin listener, letting requests in flight finish."""
        if self.server is not None:
            await self.server.drain()

    async def stop(self) -> None:
        """Close the admin listener (when the drain did not)."""
        await self.drain()

    async def _inspect(self, request: Any) -> Any:
        return _json(self.app.inspect())

    async def _config(self, request: Any) -> Any:
        # Served while the application runs: its configuration is loaded.
        return _json({"config": self.app.config.provenance_table()})

    async def _health(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        health = getattr(self.app, "health", None)
        if health is None:
            return JSONResponse({"detail": "health is not enabled"}, status_code=404)
        return _json(health.snapshot().to_dict())

    async def _events(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        raw = request.query_params.get("limit", str(self.config.events))
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            return JSONResponse(
                {"detail": "limit must be an integer from 1 to 10000"}, status_code=400
            )
        limit = min(int(raw), self.config.events)
        return _json({"events": [e.as_dict() for e in self.app.events.recent(limit)]})

    async def _logger(self, request: Any) -> Any:
        name = request.path_params["name"]
        target = logging.getLogger(None if name == "root" else name)
        return _json(
            {
                "name": name,
                "level": logging.getLevelName(target.level),
                "effective": logging.getLevelName(target.getEffectiveLevel()),
            }
        )

    async def _set_logger(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        name = request.path_params["name"]
        try:
            body = await request.json()
        except ValueError:
            body = None
        level = body.get("level") if isinstance(body, dict) else None
        if not isinstance(level, str) or level.upper() not in _LEVELS:
            return JSONResponse(
                {"detail": f'send {{"level": ...}} with one of {", ".join(_LEVELS)}'},
                status_code=400,
            )
        target = logging.getLogger(None if name == "root" else name)
        before = logging.getLevelName(target.level)
        target.setLevel(level.upper())
        self.emit("admin.logger.changed", logger=name, before=before, level=level.upper())
        return await self._logger(request)


def _json(value: Any) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(json_safe(value))
