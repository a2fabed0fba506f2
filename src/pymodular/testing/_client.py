"""``TestClient``: an httpx client driving a whole application in-process."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from pymodular.application import Application
from pymodular.testing._process import in_process

__all__ = ("TestClient",)


class TestClient(httpx.AsyncClient):
    """Start an application, call it over its real ASGI stack in-process, stop it::

        async with TestClient(create_app()) as client:
            answer = await client.post("/api/notes", json={"title": "first"})
            assert answer.status_code == 201

    Entering starts the application (every module's init and start, with the server
    serving in-process: no port is taken) unless it is running already; leaving stops
    it (drain, stop, in reverse) if the client started it. Requests go through what
    the server would serve — its health probes and load shedding, then the router's
    middleware and routes — so ``/healthz`` answers too. ``service`` names the service
    whose ``asgi()`` (a server) or itself (an ASGI app) is called; by default the
    ``httpserver`` service, else the ``router``. A plain ASGI app (``TestClient(router)``)
    is called as it is, without a lifecycle. Every httpx ``AsyncClient`` method works.
    """

    __test__ = False  # not a test class, whatever pytest's naming rules say

    def __init__(
        self,
        app: Application | Any,
        *,
        base_url: str = "http://testserver",
        service: str | None = None,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        raise_app_exceptions: bool = True,
        **options: Any,
    ) -> None:
        self.app = app
        self.service = service
        self._started_here = False
        self._asgi: Any = None
        transport = httpx.ASGITransport(
            app=self._call, client=client, raise_app_exceptions=raise_app_exceptions
        )
        super().__init__(transport=transport, base_url=base_url, **options)

    @property
    def application(self) -> Application | None:
        """The application driven, or None for a plain ASGI app."""
        return self.app if isinstance(self.app, Application) else None

    async def _call(self, scope: Any, receive: Any, send: Any) -> None:
        if self._asgi is None:
            raise RuntimeError("enter the client first: async with TestClient(app) as client")
        await self._asgi(scope, receive, send)

    async def __aenter__(self) -> Self:
        application = self.application
        if application is None:
            self._asgi = self.app
        else:
            if str(application.state) in ("created", "initialised"):
                with in_process():
                    await application.start()
                self._started_here = True
            try:
                self._asgi = entry_point(application, self.service)
            except BaseException:
                await self._stop()
                raise
        await super().__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self._stop()

    async def _stop(self) -> None:
        application = self.application
        if self._started_here and application is not None:
            self._started_here = False
            await application.stop()


def entry_point(application: Application, service: str | None = None) -> Any:
    """The ASGI app a test client calls for ``application`` (see :class:`TestClient`)."""
    names = (service,) if service else ("httpserver", "router")
    for name in names:
        found = application.services.get_optional(name)
        if found is None:
            continue
        asgi = getattr(found, "asgi", None)
        if callable(asgi):
            return asgi()
        if callable(found):
            return found
    raise LookupError(
        f"the application {application.name!r} serves no ASGI app under "
        f"{' or '.join(repr(n) for n in names)}: add the router and httpserver modules, or "
        "name the service to call with TestClient(app, service=...)"
    )
