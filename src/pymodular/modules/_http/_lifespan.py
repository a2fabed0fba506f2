"""Running an ASGI app's lifespan (startup and shutdown) inside the module lifecycle.

The server itself runs uvicorn with ``lifespan="off"``: the application's modules own
startup and shutdown. An app brought along — a FastAPI, Starlette or Litestar app
served by the httpserver or mounted on the router — may still open its pools in its
own lifespan; :class:`Lifespan` speaks the ASGI lifespan protocol to it: ``startup``
returns once the app reported ``lifespan.startup.complete`` (and fails with its
message on ``lifespan.startup.failed``), ``shutdown`` once it reported
``lifespan.shutdown.complete``. An app that does not speak the protocol (it raises or
returns at once, as ASGI allows) is simply started and stopped with nothing to wait for.
The ``state`` the app filled in during startup is given to each of its requests, as
servers do (``request.state``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pymodular.errors import LifecycleError, error_text
from pymodular.modules._http._asgi import ASGIApp, Message, Scope

__all__ = ("Lifespan",)

logger = logging.getLogger("pymodular.httpserver")


class Lifespan:
    """The lifespan of one ASGI app: ``await startup()``, later ``await shutdown()``.

    ``name`` labels errors and logs. ``timeout`` bounds each phase (seconds).
    """

    def __init__(self, app: ASGIApp, *, name: str, timeout: float = 30.0) -> None:
        self.app = app
        self.name = name
        self.timeout = timeout
        self.state: dict[str, Any] = {}
        self.supported = False
        """Whether the app answered the protocol (known after :meth:`startup`)."""
        self.running = False
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app's answer.

        Raises :class:`~pymodular.errors.LifecycleError` when the app reports a failed
        startup, fails with an exception after it began answering, or exceeds
        ``timeout``.
        """
        if self._task is not None:
            return
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._task = asyncio.get_running_loop().create_task(
            self._run(scope), name=f"pymodular-lifespan-{self.name}"
        )
        await self._to_app.put({"type": "lifespan.startup"})
        answer = await self._answer("startup")
        if answer is None:
            return  # the app does not use lifespans
        if answer["type"] == "lifespan.startup.failed":
            await self._cancel()
            raise LifecycleError(
                f"{self.name}: the application's startup failed: "
                f"{answer.get('message') or 'no message'}",
                phase="start",
            )
        self.supported = self.running = True

    @property
    def alive(self) -> bool:
        """Whether the app's lifespan is still running (started and not ended)."""
        return self.running and self._task is not None and not self._task.done()

    def serve(self, scope: Scope) -> None:
        """Give a request ``scope`` a shallow copy of the lifespan state (ASGI's rule);
        what the request's own middleware stored there already is kept."""
        if self.state:
            own = scope.get("state")
            scope["state"] = {**self.state, **own} if own else dict(self.state)

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app's answer (idempotent)."""
        if self._task is None or not self.running:
            await self._finish()
            return
        self.running = False
        await self._to_app.put({"type": "lifespan.shutdown"})
        answer = await self._answer("shutdown")
        await self._finish()
        if answer is not None and answer["type"] == "lifespan.shutdown.failed":
            raise LifecycleError(
                f"{self.name}: the application's shutdown failed: "
                f"{answer.get('message') or 'no message'}",
                phase="stop",
            )

    async def _run(self, scope: Scope) -> None:
        try:
            await self.app(scope, self._to_app.get, self._from_app.put)
        except BaseException as exc:  # noqa: BLE001 - reported through _answer
            self._failure = exc
        finally:
            await self._from_app.put({"type": "pymodular.lifespan.ended"})

    async def _answer(self, phase: str) -> Message | None:
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self._from_app.get()
        except TimeoutError:
            await self._cancel()
            raise LifecycleError(
                f"{self.name}: the application did not finish its {phase} within "
                f"{self.timeout:g} s",
                phase="start" if phase == "startup" else "stop",
            ) from None
        expected = {f"lifespan.{phase}.complete", f"lifespan.{phase}.failed"}
        if answer["type"] in expected:
            return answer
        if answer["type"] != "pymodular.lifespan.ended":
            # Not the lifespan protocol (uvicorn's "auto" mode reads it the same way).
            logger.debug("%s: no lifespan support (it sent %r)", self.name, answer["type"])
            await self._cancel()
            if phase == "startup":
                return None
            raise LifecycleError(
                f"{self.name}: the application answered {answer['type']!r} to a shutdown",
                phase="stop",
            )
        failure = self._failure
        if not self.supported and phase == "startup":
            if failure is not None:
                logger.debug("%s: no lifespan support (%s)", self.name, error_text(failure))
            return None
        if failure is not None:
            raise LifecycleError(
                f"{self.name}: the application's lifespan failed during {phase}: "
                f"{error_text(failure)}",
                phase="start" if phase == "startup" else "stop",
            ) from failure
        return None

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _finish(self) -> None:
        """End the app's lifespan task: it returns by itself after answering shutdown;
        anything still running a moment later is cancelled."""
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await asyncio.shield(task)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
