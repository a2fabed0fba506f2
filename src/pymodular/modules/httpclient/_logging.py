"""Request/response logging hooks for an httpx client, secrets redacted."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import httpx

from pymodular._credentials import add_sensitive_headers
from pymodular.modules.httpclient._redact import redact_body, redact_headers, redact_url
from pymodular.modules.httpclient.config import LoggingConfig

__all__ = ("LogHooks",)

logger = logging.getLogger("pymodular.httpclient")

_STARTED = "pymodular.started"
_READ_LIMIT = 64 * 1024  # larger or streamed response bodies are never read for a log line


class LogHooks:
    """``request`` and ``response`` event hooks; ``config`` may be replaced (reload)."""

    def __init__(self, client: str, config: LoggingConfig) -> None:
        self.client = client
        self.config = config

    @property
    def config(self) -> LoggingConfig:
        """The logging settings; their ``redact_headers`` are masked in httpcore's lines too."""
        return self._config

    @config.setter
    def config(self, config: LoggingConfig) -> None:
        add_sensitive_headers(config.redact_headers)
        self._config = config

    def hooks(self) -> dict[str, list[Callable[..., Awaitable[None]]]]:
        """The ``event_hooks`` argument for :class:`httpx.AsyncClient`."""
        return {"request": [self.on_request], "response": [self.on_response]}

    async def on_request(self, request: httpx.Request) -> None:
        request.extensions[_STARTED] = time.perf_counter()
        config = self.config
        if config.level in ("off", "basic"):
            return
        lines = [f"[{self.client}] --> {request.method} {redact_url(str(request.url))}"]
        lines.extend(
            f"    {k}: {v}"
            for k, v in redact_headers(request.headers.items(), config.redact_headers)
        )
        if config.level == "body":
            try:
                body = request.content
            except httpx.RequestNotRead:
                lines.append("    <streamed body not logged>")
            else:
                lines.extend(_body_lines(body, request.headers, config))
        logger.info("\n".join(lines))

    async def on_response(self, response: httpx.Response) -> None:
        config = self.config
        if config.level == "off":
            return
        request = response.request
        started = request.extensions.get(_STARTED)
        took = f" in {(time.perf_counter() - started) * 1000:.1f} ms" if started else ""
        head = (
            f"[{self.client}] <-- {request.method} {redact_url(str(request.url))} "
            f"{response.status_code}{took}"
        )
        if config.level == "basic":
            logger.info(head)
            return
        lines = [head]
        lines.extend(
            f"    {k}: {v}"
            for k, v in redact_headers(response.headers.items(), config.redact_headers)
        )
        if config.level == "body":
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) <= _READ_LIMIT:
                lines.extend(_body_lines(await response.aread(), response.headers, config))
            else:
                lines.append("    <streamed or large body not logged>")
        logger.info("\n".join(lines))


def _body_lines(body: bytes, headers: httpx.Headers, config: LoggingConfig) -> list[str]:
    """The logged form of a request or response body: redacted, truncated, maybe none."""
    shown = redact_body(
        body, headers.get("content-type", ""), config.max_body_bytes, config.redact_fields
    )
    return [f"    {shown}"] if shown else []
