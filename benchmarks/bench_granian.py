"""Would granian make the full stack faster? The JSON route of ``bench_http`` on both servers.

Four servers answer ``GET /json`` with ``{"message": "hello, world"}``, in interleaved
rounds (wrk -t2 -c64, each server pinned to one core, wrk to the other):

- **ours/uvicorn**: the full module stack of ``bench_http`` as shipped (router with request
  id, CORS and errors; the httpserver with its guarded protocol, probes and limits);
- **ours/granian**: the same application started in-process (no socket), its server's
  outermost ASGI app (probes, load shedding, the router and its middleware) served by
  granian's embedded server (ASGI without lifespan, one Rust runtime thread, uvloop);
- **starlette/uvicorn**: bare Starlette on uvicorn with ``bench_http``'s settings (the
  reference of the issue's 1.2x question);
- **starlette/granian**: bare Starlette on granian, the same granian settings.

This measures a question, not a shipped feature: granian is not offered as a server
option (decision record 0103 says why). Run alone: ``.venv/bin/python -m benchmarks
granian`` (``BENCH_HTTP_SECONDS``, ``BENCH_HTTP_ROUNDS`` as for ``http``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._harness import Row, Stats
from benchmarks.bench_http import _UVICORN, PAYLOAD, _free_port, _pinned, _wait_ready, _wrk

KINDS = ("ours/uvicorn", "ours/granian", "starlette/uvicorn", "starlette/granian")


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def json_route(request: Any) -> JSONResponse:
        return JSONResponse(PAYLOAD)

    return Starlette(routes=[Route("/json", json_route)])


def _application(port: int) -> Any:
    from pymodular import Application, Dependency, Module
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.router import Router, RouterModule

    class Hello(Module[Any]):
        name = "hello"
        router = Dependency(Router)

        async def init(self, app: Any) -> None:
            @self.router.get("/json")
            async def json_route(request: Any) -> dict[str, str]:
                return PAYLOAD

    config = {
        "httpserver": {"host": "127.0.0.1", "port": port},
        "router": {
            "request_id": {"enabled": True},
            "cors": {"enabled": True, "allow_origins": ["https://app.example.com"]},
        },
    }
    return Application(
        [RouterModule(), Hello(), HttpServerModule()], feeders=[DictFeeder(config)], health=True
    )


async def _granian(target: Any, port: int) -> None:
    from granian.constants import Interfaces
    from granian.server.embed import Server

    server = Server(
        target,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGINL,
        runtime_threads=1,
        backlog=2048,
        log_enabled=False,
    )
    await server.serve()


async def _ours_on_granian(port: int) -> None:
    import gc

    from pymodular.modules.httpserver import HttpServer
    from pymodular.testing import in_process

    app = _application(port)
    with in_process():
        await app.start()
    gc.collect()
    gc.freeze()  # what the httpserver does after start on a real socket
    await _granian(app.services.get(HttpServer).asgi(), port)


def _serve(kind: str, port: int) -> None:
    import uvloop

    if kind == "ours/uvicorn":
        raise SystemExit(_application(port).run(loop="uvloop", log_level="WARNING"))
    if kind == "ours/granian":
        uvloop.run(_ours_on_granian(port))
    elif kind == "starlette/granian":
        uvloop.run(_granian(_starlette(), port))
    else:
        import uvicorn

        uvicorn.Server(uvicorn.Config(_starlette(), host="127.0.0.1", port=port, **_UVICORN)).run()


def run() -> list[Row]:
    """The four servers in interleaved rounds; one row for the full stack on granian."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run scripts/system-deps.sh (Debian package wrk)")
    seconds = float(os.environ.get("BENCH_HTTP_SECONDS", "2"))
    rounds = int(os.environ.get("BENCH_HTTP_ROUNDS", "8"))
    ports = {kind: _free_port() for kind in KINDS}
    processes = {
        kind: subprocess.Popen(
            [*_pinned(0), sys.executable, "-m", "benchmarks.bench_granian", kind, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for kind, port in ports.items()
    }
    rates: dict[str, list[float]] = {k: [] for k in KINDS}
    try:
        for kind in KINDS:
            _wait_ready(ports[kind], processes[kind])
        for kind in KINDS:
            _wrk(ports[kind], 2, strict=True)
        for _ in range(rounds):
            for kind in KINDS:
                rates[kind].append(_wrk(ports[kind], seconds, strict=True)[0])
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    stats = {k: Stats.of(v) for k, v in rates.items()}

    def ratio(kind: str) -> float:
        return statistics.median(
            a / b for a, b in zip(rates[kind], rates["starlette/uvicorn"], strict=True)
        )

    on_granian, on_uvicorn, floor = (
        ratio("ours/granian"),
        ratio("ours/uvicorn"),
        ratio("starlette/granian"),
    )
    return [
        Row(
            target="HTTP JSON route req/s, full stack served by granian (measured, not offered)",
            ours=stats["ours/granian"],
            goal=">= 1.2x Starlette on uvicorn",
            met=on_granian >= 1.2,
            peers={
                "starlette/uvicorn": stats["starlette/uvicorn"],
                "ours/uvicorn": stats["ours/uvicorn"],
            },
            floor=("starlette/granian", stats["starlette/granian"]),
            unit="req/s",
            note=f"wrk -t2 -c64, {rounds} x {seconds:g} s; per round vs Starlette/uvicorn: "
            f"ours/granian {on_granian:.2f}x, ours/uvicorn {on_uvicorn:.2f}x, "
            f"starlette/granian {floor:.2f}x",
        )
    ]


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
