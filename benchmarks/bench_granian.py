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

import sys
from typing import Any

from benchmarks._harness import Row, Stats
from benchmarks.bench_http import (
    _UVICORN,
    PAYLOAD,
    full_stack,
    interleaved_load,
    json_routes,
    per_round,
)

KINDS = ("ours/uvicorn", "ours/granian", "starlette/uvicorn", "starlette/granian")


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def json_route(request: Any) -> JSONResponse:
        return JSONResponse(PAYLOAD)

    return Starlette(routes=[Route("/json", json_route)])


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

    app = full_stack(port, json_routes)
    with in_process():
        await app.start()
    gc.collect()
    gc.freeze()  # what the httpserver does after start on a real socket
    await _granian(app.services.get(HttpServer).asgi(), port)


def _serve(kind: str, port: int) -> None:
    import uvloop

    if kind == "ours/uvicorn":
        raise SystemExit(full_stack(port, json_routes).run(loop="uvloop", log_level="WARNING"))
    if kind == "ours/granian":
        uvloop.run(_ours_on_granian(port))
    elif kind == "starlette/granian":
        uvloop.run(_granian(_starlette(), port))
    else:
        import uvicorn

        uvicorn.Server(uvicorn.Config(_starlette(), host="127.0.0.1", port=port, **_UVICORN)).run()


def run() -> list[Row]:
    """The four servers in interleaved rounds; one row for the full stack on granian."""
    rates, _p99s, rounds, seconds = interleaved_load("benchmarks.bench_granian", KINDS, strict=True)
    stats = {k: Stats.of(v) for k, v in rates.items()}
    reference = "starlette/uvicorn"
    on_granian = per_round(rates, "ours/granian", reference)
    on_uvicorn = per_round(rates, "ours/uvicorn", reference)
    floor = per_round(rates, "starlette/granian", reference)
    return [
        Row(
            target="HTTP JSON route req/s, full stack served by granian (measured, not offered)",
            ours=stats["ours/granian"],
            goal=">= 1.2x Starlette on uvicorn",
            met=on_granian >= 1.2,
            peers={reference: stats[reference], "ours/uvicorn": stats["ours/uvicorn"]},
            floor=("starlette/granian", stats["starlette/granian"]),
            unit="req/s",
            note=f"wrk -t2 -c64, {rounds} x {seconds:g} s; per round vs Starlette/uvicorn: "
            f"ours/granian {on_granian:.2f}x, ours/uvicorn {on_uvicorn:.2f}x, "
            f"starlette/granian {floor:.2f}x",
        )
    ]


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
