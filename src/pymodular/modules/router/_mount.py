"""Mounted apps: a FastAPI, Starlette or Litestar app behind the router, sharing its stack.

:class:`MountedApp` is what a mount serves. Around the foreign app it

- gives each request the app's lifespan state (``request.state``) beside the router's
  own (the request id), as an ASGI server would;
- makes the application's service registry the one :func:`service_dependency` reads, so
  the app's ``Depends``/``Provide`` get pymodular services (tenant-scoped ones for the
  request's tenant);
- keeps one error shape: with ``errors="problem"`` an error answer the app makes itself
  (``{"detail": ...}``, plain text, Litestar's shape) is reshaped into problem+json, and
  an exception the app lets out after answering 500 is reported once — the app's own
  500 is dropped and the router's error middleware logs the exception and answers;
  ``errors="keep"`` passes the app's answers on as they are (the exception is still
  logged once, by the mount, never a second time by the server);
- logs, once, a 5xx answer the app made without raising (Litestar answers its handlers'
  exceptions itself and, by default, logs nothing): one error line with the mount's
  label, the request id and the app's own detail, in either error shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pymodular.modules._http import (
    PROBLEM_CONTENT_TYPE,
    ASGIApp,
    Lifespan,
    Message,
    Receive,
    Scope,
    Send,
    current_services,
    direct,
    request_id_of,
)
from pymodular.modules.router._foreign import MAX_REWRITTEN_BYTES, problem_from, should_reshape

__all__ = ("ErrorShape", "MountedApp", "service_dependency")

logger = logging.getLogger("pymodular.router")

T = TypeVar("T")

ErrorShape = Literal["problem", "keep"]


class MountedApp:
    """The ASGI app a mount serves (see the module docstring)."""

    __slots__ = ("app", "call", "errors", "label", "lifespan", "reshape", "services")

    def __init__(
        self,
        app: ASGIApp,
        *,
        label: str,
        services: Callable[[], Any],
        lifespan: Lifespan | None = None,
        errors: ErrorShape = "problem",
    ) -> None:
        self.app = app
        self.call = direct(app)
        self.label = label
        self.services = services
        self.lifespan = lifespan
        self.errors = errors
        self.reshape = errors == "problem"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            return  # the mount's lifespan is run by the router or the MountModule
        if self.lifespan is not None:
            self.lifespan.serve(scope)
        token = current_services.set(self.services())
        try:
            if kind != "http":
                await self.app(scope, receive, send)
                return
            # HTTP inline here (not a method of its own): one frame fewer per resume.
            reshape = self.reshape
            request_id = request_id_of(scope) if reshape else None
            answer = _Answer(send, reshape, request_id)
            path = scope["path"]  # read before the app runs: Litestar rewrites the path
            try:
                await self.call(scope, receive, answer.send)
            except Exception:
                if answer.started:
                    # It answered (its own 500, say) and raised after: the answer stands.
                    logger.exception(
                        "unhandled error in %s (%s %s)", self.label, scope["method"], path
                    )
                    return
                raise  # nothing was sent: the error middleware logs it and answers
            if answer.waiting is not None or answer.held is not None:
                await answer.finish()  # a held answer to send
            if answer.status >= 500:  # answered a failure without raising: nobody logged it
                logger.error(
                    "%s answered %d to %s %s (request id %s): %s",
                    self.label,
                    answer.status,
                    scope["method"],
                    path,
                    request_id_of(scope),
                    answer.detail or "no detail",
                )
        finally:
            current_services.reset(token)


class _Answer:
    """Passes a mounted app's answer on; holds error answers back to reshape them."""

    __slots__ = (
        "body",
        "detail",
        "held",
        "request_id",
        "reshape",
        "send_on",
        "started",
        "status",
        "waiting",
    )

    def __init__(self, send: Send, reshape: bool, request_id: str | None) -> None:
        # positional: a call with keywords builds a dict, once per request
        self.send_on = send
        self.reshape = reshape
        self.request_id = request_id
        self.held: Message | None = None
        self.body: list[bytes] = []
        self.started = False
        """Whether anything reached the client."""
        self.status = 0
        """The status the app answered (0 before it starts its answer)."""
        self.detail = ""
        """What the app said in a held 5xx body (for the log: never sent to the client)."""
        self.waiting: tuple[Message, Message] | None = None
        """A complete reshaped answer, sent once the app returned without raising."""

    def send(self, message: Message) -> Awaitable[None]:
        if not self.reshape:  # passed on as it is: the server's awaitable, no coroutine
            if message["type"] == "http.response.start":
                self.started = True
                self.status = message["status"]
            return self.send_on(message)
        return self._send(message)

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            if self.reshape and should_reshape(message["status"], message.get("headers", ())):
                self.held = message
                return
            self.started = True
            await self.send_on(message)
            return
        if kind != "http.response.body" or self.held is None:
            await self.send_on(message)
            return
        self.body.append(message.get("body", b""))
        if sum(len(b) for b in self.body) > MAX_REWRITTEN_BYTES:
            await self._release(more=message.get("more_body", False))
            return
        if not message.get("more_body", False):
            self._reshape()

    def _reshape(self) -> None:
        held = self.held
        assert held is not None
        status = held["status"]
        headers = list(held.get("headers", ()))
        media = ""
        for name, value in headers:
            if name.lower() == b"content-type":
                media = value.decode("latin-1")
        body = b"".join(self.body)
        if status >= 500:
            self.detail = _detail_of(media, body)
        reshaped = problem_from(status, media, body, request_id=self.request_id)
        if reshaped is not None:
            kept = [(k, v) for k, v in headers if k.lower() not in _REPLACED]
            held = {
                **held,
                "headers": [
                    *kept,
                    (b"content-type", PROBLEM_CONTENT_TYPE),
                    (b"content-length", str(len(reshaped)).encode()),
                ],
            }
            body = reshaped
        self.waiting = (held, {"type": "http.response.body", "body": body})
        self.held = None
        self.body = []

    async def _release(self, *, more: bool) -> None:
        held, self.held = self.held, None
        assert held is not None
        self.started = True
        await self.send_on(held)
        await self.send_on(
            {"type": "http.response.body", "body": b"".join(self.body), "more_body": more}
        )
        self.body = []

    async def finish(self) -> None:
        """Send a held answer (the app returned normally)."""
        if self.waiting is not None:
            start, body = self.waiting
            self.waiting = None
            self.started = True
            await self.send_on(start)
            await self.send_on(body)
        elif self.held is not None:  # the app never finished its body: send what came
            await self._release(more=False)


_REPLACED = frozenset({b"content-type", b"content-length"})
_LOGGED_DETAIL = 300
"""At most this many characters of a failing app's detail go to the log."""


def _detail_of(media: str, body: bytes) -> str:
    """The ``detail`` of a JSON error body, else the body's text (shortened for the log)."""
    text = body.decode("utf-8", "replace").strip()
    if media.split(";", 1)[0].strip().lower() == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            text = data["detail"]
    return text[:_LOGGED_DETAIL]


def service_dependency(key: type[T], *, name: str | None = None) -> Callable[[], Awaitable[T]]:
    """A dependency giving a mounted app the service ``key`` from the application.

    ::

        @api.get("/notes")                                   # FastAPI
        async def notes(repo: Annotated[NoteRepo, Depends(service_dependency(NoteRepo))]): ...

        @get("/notes", dependencies={"repo": Provide(service_dependency(NoteRepo))})
        async def notes(repo: NoteRepo) -> list[Note]: ...   # Litestar

    It works in apps mounted on the router (``router.mount``, :class:`MountModule`) and
    in an app the httpserver serves directly. Tenant-scoped services resolve to the
    request's tenant (the router's tenant middleware runs before the app); ``name``
    picks one of several services of the type.
    """

    async def provide() -> T:
        registry = current_services.get()
        if registry is None:
            raise RuntimeError(
                f"service_dependency({key.__qualname__}) is used outside a pymodular "
                "application: mount the app on the router or serve it with HttpServerModule"
            )
        return registry.get(key, name=name)  # type: ignore[no-any-return]

    provide.__annotations__ = {"return": key}  # what FastAPI and Litestar read
    provide.__name__ = provide.__qualname__ = f"provide_{key.__name__}"
    return provide
