"""An httpx transport that retries, counts outcomes and reports failures as events."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

import pymodular.modules._telemetry as telemetry
from pymodular.modules.httpclient._failures import classify
from pymodular.modules.httpclient._redact import redact_url
from pymodular.modules.httpclient._retry import (
    RetryPolicy,
    backoff_delay,
    retry_after_seconds,
    should_retry,
)
from pymodular.modules.httpclient._window import ErrorWindow

__all__ = ("RetryTransport",)

logger = logging.getLogger("pymodular.httpclient")

Emit = Callable[..., Any]


class RetryTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with retries (see :func:`should_retry`), an error window and events.

    Emits ``httpclient.request.retried`` before each retry and
    ``httpclient.request.failed`` when a request finally fails (an exception, or a 5xx
    answer). ``policy`` may be replaced at any time (hot reload).
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        client: str,
        policy: RetryPolicy,
        window: ErrorWindow,
        emit: Emit | None = None,
        random: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.client = client
        self.policy = policy
        self.window = window
        self._emit = emit or (lambda *_a, **_k: None)
        self._random = random
        self._sleep = sleep
        self.retries = 0
        self.failures = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        tracer = telemetry.tracer
        if not tracer.active:
            return await self._send(request)
        url = request.url
        attributes = {
            "http.request.method": request.method,
            "url.full": redact_url(str(url.copy_with(query=None))),
            "server.address": url.host,
            "server.port": url.port,
            "pymodular.client": self.client,
        }
        with tracer.span(request.method, kind="client", attributes=attributes) as span:
            tracer.inject(request.headers)  # the callee continues this trace
            response = await self._send(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.fail(f"HTTP {response.status_code}")
            return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        policy = self.policy
        method = request.method
        replayable = _replayable(request)
        attempt = 1
        while True:
            try:
                response = await self.inner.handle_async_request(request)
            except httpx.TransportError as exc:
                kind = type(exc).__name__
                if should_retry(
                    policy, method=method, attempt=attempt, error=kind, replayable=replayable
                ):
                    await self._retry(
                        request, attempt, backoff_delay(policy, attempt, self._random), kind
                    )
                    attempt += 1
                    continue
                self._failed(request, attempt, error=f"{kind}: {exc}")
                classified = classify(exc, request, attempt)
                if classified is exc:
                    raise
                raise classified from exc
            status = response.status_code
            if should_retry(
                policy, method=method, attempt=attempt, status=status, replayable=replayable
            ):
                wait = retry_after_seconds(response.headers.get("retry-after"))
                await response.aclose()
                await self._retry(
                    request,
                    attempt,
                    backoff_delay(policy, attempt, self._random, retry_after=wait),
                    f"status {status}",
                )
                attempt += 1
                continue
            if status >= 500:
                self._failed(request, attempt, status=status)
            else:
                self.window.record(True)
            return response

    async def _retry(self, request: httpx.Request, attempt: int, delay: float, reason: str) -> None:
        self.retries += 1
        url = redact_url(str(request.url))
        logger.info(
            "%s %s failed (%s) on attempt %d; retrying in %.3fs",
            request.method,
            url,
            reason,
            attempt,
            delay,
        )
        self._emit(
            "httpclient.request.retried",
            client=self.client,
            method=request.method,
            url=url,
            attempt=attempt,
            reason=reason,
            delay=round(delay, 4),
        )
        await self._sleep(delay)

    def _failed(
        self,
        request: httpx.Request,
        attempts: int,
        *,
        error: str | None = None,
        status: int | None = None,
    ) -> None:
        self.failures += 1
        self.window.record(False)
        url = redact_url(str(request.url))
        self._emit(
            "httpclient.request.failed",
            client=self.client,
            method=request.method,
            url=url,
            attempts=attempts,
            error=error,
            status=status,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _replayable(request: httpx.Request) -> bool:
    return isinstance(request.stream, httpx.ByteStream)
