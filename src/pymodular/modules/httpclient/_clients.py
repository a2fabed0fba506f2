"""Building one named client: an httpx client with retries, logging and an error window."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from pymodular.module import Extra
from pymodular.modules.httpclient._logging import LogHooks
from pymodular.modules.httpclient._retry import RetryPolicy
from pymodular.modules.httpclient._transport import RetryTransport
from pymodular.modules.httpclient._window import ErrorWindow
from pymodular.modules.httpclient.config import HttpClientConfig, RetryConfig
from pymodular.modules.httpclient.errors import HttpClientConfigError

__all__ = ("ClientEntry", "build_client", "retry_policy")

_HTTP2 = Extra("httpclient", "h2")


def retry_policy(config: RetryConfig) -> RetryPolicy:
    """A :class:`RetryPolicy` from the configuration."""
    return RetryPolicy(
        max_attempts=config.max_attempts,
        backoff_base=config.backoff_base,
        backoff_max=config.backoff_max,
        jitter=config.jitter,
        methods=frozenset(m.upper() for m in config.methods),
        statuses=frozenset(config.statuses),
        respect_retry_after=config.respect_retry_after,
    )


def timeout_of(config: HttpClientConfig) -> httpx.Timeout:
    """The four timeouts as an :class:`httpx.Timeout`."""
    return httpx.Timeout(
        connect=config.connect_timeout,
        read=config.read_timeout,
        write=config.write_timeout,
        pool=config.pool_timeout,
    )


@dataclass(eq=False)
class ClientEntry:
    """A named client with the parts that hot reload adjusts."""

    name: str
    config: HttpClientConfig
    client: httpx.AsyncClient
    transport: RetryTransport
    hooks: LogHooks
    window: ErrorWindow

    def apply(self, config: HttpClientConfig) -> None:
        """Apply the dynamic fields of ``config`` (timeouts, retries, logging, health)."""
        self.config = config
        self.client.timeout = timeout_of(config)
        self.transport.policy = retry_policy(config.retries)
        self.hooks.config = config.logging
        self.window.seconds = config.health.window_seconds

    def describe(self) -> dict[str, Any]:
        """Counters for health details and ``app.inspect()``."""
        total, failed = self.window.counts()
        return {
            "base_url": self.config.base_url,
            "recent_requests": total,
            "recent_failures": failed,
            "retries": self.transport.retries,
            "failures": self.transport.failures,
        }


def build_client(
    name: str,
    config: HttpClientConfig,
    *,
    emit: Callable[..., Any] | None = None,
    inner: httpx.AsyncBaseTransport | None = None,
) -> ClientEntry:
    """An :class:`httpx.AsyncClient` for ``config`` (``inner`` replaces the network)."""
    if config.http2:
        field = f"httpclient.{name}.http2"
        _HTTP2.require(field, field=field)
    verify: ssl.SSLContext | bool = config.verify
    if config.ca_file:
        try:
            verify = ssl.create_default_context(cafile=config.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise HttpClientConfigError(
                f"httpclient.{name}.ca_file {config.ca_file!r} cannot be loaded: {exc}",
                field=f"httpclient.{name}.ca_file",
            ) from None
    limits = httpx.Limits(
        max_connections=config.max_connections,
        max_keepalive_connections=config.max_keepalive_connections,
        keepalive_expiry=config.keepalive_expiry,
    )
    network = inner or httpx.AsyncHTTPTransport(verify=verify, http2=config.http2, limits=limits)
    window = ErrorWindow(config.health.window_seconds)
    transport = RetryTransport(
        network, client=name, policy=retry_policy(config.retries), window=window, emit=emit
    )
    hooks = LogHooks(name, config.logging)
    headers = {"user-agent": config.user_agent, **config.headers}
    if config.auth_token is not None:
        headers["authorization"] = f"Bearer {config.auth_token.reveal()}"
    client = httpx.AsyncClient(
        base_url=config.base_url,
        headers=headers,
        timeout=timeout_of(config),
        follow_redirects=config.follow_redirects,
        transport=transport,
        event_hooks=hooks.hooks(),
    )
    return ClientEntry(name, config, client, transport, hooks, window)
