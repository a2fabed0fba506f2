"""Error middleware: every failure becomes a problem+json answer, never a traceback leak."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException

from pymodular.modules._http import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    direct,
    request_id_of,
    send_problem,
)
from pymodular.secrets import redact

__all__ = ("ErrorMiddleware", "send_request_problem")

logger = logging.getLogger("pymodular.router")

UNAVAILABLE = "a service this request needs is unavailable; retry later"
RETRY_AFTER = b"1"  # seconds: the modules reconnect within about that


async def send_request_problem(
    scope: Scope, send: Send, status: int, detail: str, **extra: Any
) -> None:
    """Answer the request with a problem body that carries its request id (if any)."""
    await send_problem(send, status, detail, request_id=request_id_of(scope), **extra)


class ErrorMiddleware:
    """Turns exceptions into problem responses.

    :class:`~starlette.exceptions.HTTPException` keeps its status, detail and headers.
    A :class:`ConnectionError` (what the database, cache and event bus raise when their
    server is unreachable: ``DatabaseUnavailableError``, ``CacheUnavailableError``,
    ``BrokerUnavailableError``) is answered 503 with ``Retry-After`` and logged as a
    warning without a traceback: the request may succeed once the service is back
    (decision 0340). Any other exception is logged with its traceback and answered 500
    with a generic detail; the traceback goes into the answer only while ``debug()`` is
    true. When the response had already begun, the exception propagates and the server
    closes the connection (a half-sent body cannot be repaired).
    """

    __slots__ = ("app", "call", "debug")

    def __init__(self, app: ASGIApp, *, debug: Callable[[], bool] = lambda: False) -> None:
        self.app = app
        self.call = direct(app)
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # No send wrapper on the hot path: if the answer had already begun, sending
        # the problem fails (the server refuses a second start) and the original
        # exception propagates, so the server closes the connection.
        try:
            await self.call(scope, receive, send)
        except HTTPException as exc:
            headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in (exc.headers or {}).items()
            ]
            extra = getattr(exc, "extra", None) or {}
            await self._answer(
                exc,
                send,
                exc.status_code,
                exc.detail,
                headers=headers,
                request_id=request_id_of(scope),
                **extra,
            )
        except ConnectionError as exc:
            logger.warning(
                "%s %s: a service is unavailable: %s",
                scope.get("method"),
                scope.get("path"),
                redact(f"{type(exc).__name__}: {exc}"),
            )
            await self._answer(
                exc,
                send,
                503,
                UNAVAILABLE,
                headers=[(b"retry-after", RETRY_AFTER)],
                request_id=request_id_of(scope),
            )
        except Exception as exc:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            trace = None
            if self.debug():
                trace = redact("".join(traceback.format_exception(exc))).splitlines()
            await self._answer(
                exc,
                send,
                500,
                "the server failed to process the request",
                request_id=request_id_of(scope),
                traceback=trace,
            )

    @staticmethod
    async def _answer(cause: Exception, send: Send, status: int, *args: Any, **kwargs: Any) -> None:
        try:
            await send_problem(send, status, *args, **kwargs)
        except Exception:  # noqa: BLE001 - the server refused: the answer had begun
            raise cause from None
