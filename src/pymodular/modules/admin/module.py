"""``AdminModule``: inspection, configuration, health, recent events and log levels over HTTP."""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from pymodular.errors import ConfigError
from pymodular.module import Dependency, Extra, Module
from pymodular.modules.admin.config import AdminConfig
from pymodular.secrets import json_safe

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("AdminModule",)

_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")
_LOGGER_NAME = re.compile(r"[^\s.]+(?:\.[^\s.]+)*")
"""Dotted parts without spaces or control characters: names loggers are given."""
_MAX_LOGGER_NAME = 200
_MAX_LEVEL_BODY = 1024
"""Bytes a ``PUT /loggers/{name}`` body may have (413 beyond)."""
_UNAUTHORIZED = "the admin endpoints need Authorization: Bearer <token>"
_CHALLENGE = {"www-authenticate": 'Bearer realm="pymodular admin"'}


class AdminModule(Module[AdminConfig]):
    """The ``admin`` module (section ``admin``): off unless ``admin.enabled``.

    When enabled it adds, under ``admin.path`` on the router, JSON endpoints for an
    operator, each requiring ``Authorization: Bearer <admin.token>`` (401 otherwise).
    Errors are problem details (``application/problem+json``) like the router's own:

    - ``GET /inspect`` — ``app.inspect()`` (modules, states, services, graph, health,
      configuration with provenance; secrets masked);
    - ``GET /config`` — the configuration fields with their provenance (masked);
    - ``GET /health`` — the health snapshot (when the application has health on);
    - ``GET /events?limit=N`` — the most recent events;
    - ``GET /loggers/{name}`` and ``PUT /loggers/{name}`` with ``{"level": "DEBUG"}`` —
      read and change a logger's level at run time (event ``admin.logger.changed``);
      404 for a name no logger can have, 400 for a body without a known level, 413 for
      a body over 1 KiB.

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
        self._levels: dict[str, int] = {}  # logger name -> its level before the first change
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
                if not allowed(request):
                    raise _problem(401, _UNAUTHORIZED, headers=_CHALLENGE)
                return await handler(request)

            endpoint.__name__ = handler.__name__
            return endpoint

        group.get("/inspect", include_in_schema=False)(guarded(self._inspect))
        group.get("/config", include_in_schema=False)(guarded(self._config))
        group.get("/health", include_in_schema=False)(guarded(self._health))
        group.get("/events", include_in_schema=False)(guarded(self._events))
        group.get("/loggers/{name}", include_in_schema=False)(guarded(self._logger))
        group.put("/loggers/{name}", include_in_schema=False, max_body_bytes=_MAX_LEVEL_BODY)(
            guarded(self._set_logger)
        )

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
        """Close the admin listener (when the drain did not); loggers changed through the
        endpoint get back the level they had before (the process may outlive the app)."""
        await self.drain()
        levels, self._levels = self._levels, {}
        for name, level in levels.items():
            logging.getLogger(None if name == "root" else name).setLevel(level)

    async def _inspect(self, request: Any) -> Any:
        return _json(self.app.inspect())

    async def _config(self, request: Any) -> Any:
        # Served while the application runs: its configuration is loaded.
        return _json({"config": self.app.config.provenance_table()})

    async def _health(self, request: Any) -> Any:
        health = getattr(self.app, "health", None)
        if health is None:
            raise _problem(404, "health is not enabled")
        return _json(health.snapshot().to_dict())

    async def _events(self, request: Any) -> Any:
        raw = request.query_params.get("limit", str(self.config.events))
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            raise _problem(400, "limit must be an integer from 1 to 10000")
        limit = min(int(raw), self.config.events)
        return _json({"events": [e.as_dict() for e in self.app.events.recent(limit)]})

    async def _logger(self, request: Any) -> Any:
        name = request.path_params["name"]
        target = _logger_named(name)
        return _json(
            {
                "name": name,
                "level": logging.getLevelName(target.level),
                "effective": logging.getLevelName(target.getEffectiveLevel()),
            }
        )

    async def _set_logger(self, request: Any) -> Any:
        name = request.path_params["name"]
        target = _logger_named(name)
        try:
            body = json.loads(await request.body())
        except ValueError:  # not JSON, not UTF-8
            body = None
        level = body.get("level") if isinstance(body, dict) else None
        if not isinstance(level, str) or level.upper() not in _LEVELS:
            raise _problem(400, f'send {{"level": ...}} with one of {", ".join(_LEVELS)}')
        before = logging.getLevelName(target.level)
        self._levels.setdefault(name, target.level)
        target.setLevel(level.upper())
        self.emit("admin.logger.changed", logger=name, before=before, level=level.upper())
        return await self._logger(request)


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Exception:
    """A problem-details error, answered by the router's error middleware (decision 0062)."""
    from starlette.exceptions import HTTPException

    return HTTPException(status, detail, headers=headers)


def _logger_named(name: str) -> logging.Logger:
    """The logger ``name`` (``root``: the root logger); 404 for a name no logger has."""
    if len(name) > _MAX_LOGGER_NAME or not _LOGGER_NAME.fullmatch(name) or not name.isprintable():
        raise _problem(
            404,
            f"no logger is named {name[:_MAX_LOGGER_NAME]!r}: logger names are dotted, "
            f"at most {_MAX_LOGGER_NAME} characters, without empty parts or spaces",
        )
    return logging.getLogger(None if name == "root" else name)


def _json(value: Any) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(json_safe(value))
