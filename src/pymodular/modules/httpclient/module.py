"""``HttpClientModule``: shared, configured httpx clients as services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.health import HealthResult
from pymodular.module import Extra, Instances, Module
from pymodular.modules.httpclient._service import DEFAULT, HttpClients
from pymodular.modules.httpclient.config import HttpClientConfig
from pymodular.services import Service

if TYPE_CHECKING:
    import httpx

    from pymodular.application import Application
    from pymodular.config import ConfigDiff

__all__ = ("HttpClientModule",)


class HttpClientModule(Module[Instances[HttpClientConfig]]):
    """Named :class:`httpx.AsyncClient` instances (module and section ``httpclient``).

    The section is instance-aware: each key names a client (``default``, ``github``,
    ...). Provides ``"httpclient"`` (the default client, also by type
    :class:`httpx.AsyncClient`) and ``"httpclients"`` (:class:`HttpClients`, every
    client by name). Clients retry idempotent requests and connection failures with
    exponential backoff and jitter, log requests with secrets redacted when asked,
    emit ``httpclient.request.retried`` and ``httpclient.request.failed``, and make
    the module's health degraded while a client's recent error rate is high.

    ``transport`` replaces the network for every client (tests).
    """

    name = "httpclient"
    extra = Extra("httpclient", "httpx")

    def __init__(
        self, *, transport: httpx.AsyncBaseTransport | None = None, name: str | None = None
    ) -> None:
        if name is not None:
            self.name = name
        self.clients = HttpClients()
        self._transport = transport

    def provides(self) -> Sequence[Service[Any]]:
        """The default client and the named clients."""
        import httpx

        return [
            Service(
                "httpclient",
                factory=lambda: self.clients.default,
                interface=httpx.AsyncClient,
                description="the default HTTP client",
            ),
            Service(
                "httpclients",
                self.clients,
                interface=HttpClients,
                description="HTTP clients by name",
            ),
        ]

    def _configs(self) -> dict[str, HttpClientConfig]:
        configs = dict(self.config)
        configs.setdefault(DEFAULT, HttpClientConfig())
        return configs

    async def init(self, app: Application) -> None:
        """Build one client per configured name (no connection is opened yet)."""
        from pymodular.modules.httpclient._clients import build_client

        for name, config in self._configs().items():
            self.clients._add(build_client(name, config, emit=self.emit, inner=self._transport))

    async def stop(self) -> None:
        """Close every client's pooled connections."""
        await self.clients.aclose()

    async def reload(self, diff: ConfigDiff) -> None:
        """Apply changed timeouts, retry policies, logging and health thresholds."""
        configs = self._configs()  # the reloader has put the new section in place
        for entry in self.clients.entries():
            updated = configs.get(entry.name, entry.config)
            if updated != entry.config:
                entry.apply(updated)
                self.log.info("client %r: applied new settings", entry.name)

    async def health_report(self) -> HealthResult:
        """Degraded while a client fails at least its ``error_rate`` of recent requests."""
        troubled = []
        details: dict[str, Any] = {}
        for entry in self.clients.entries():
            info = entry.describe()
            details[entry.name] = info
            limits = entry.config.health
            total, failed = info["recent_requests"], info["recent_failures"]
            if total >= limits.min_requests and failed / total >= limits.error_rate:
                troubled.append(f"{entry.name}: {failed} of {total} recent requests failed")
        if troubled:
            return HealthResult.degraded("; ".join(troubled), **details)
        return HealthResult.healthy(f"{len(details)} client(s)", **details)

    def describe(self) -> dict[str, Any]:
        """Every client's counters."""
        return {entry.name: entry.describe() for entry in self.clients.entries()}
