"""Typed handler throughput: our router beside FastAPI and Litestar on the same route.

Every server answers ``POST /items/{item_id}?q=...`` whose handler takes an ``int`` path
parameter, a ``str`` query parameter and a pydantic body, and returns a pydantic model::

    class ItemIn(BaseModel):  name: str; price: float; tags: list[str] = []
    class ItemOut(BaseModel): id: int; name: str; price: float; tags: list[str]; q: str | None

on uvicorn with the settings of :mod:`benchmarks.bench_http` (uvloop, httptools, one
process, no access log):

- **ours**: the full module stack of ``bench_http`` (router with request id, CORS and
  errors middleware; the httpserver with its limits and probes; health on) serving a
  typed handler;
- **fastapi**: ``FastAPI()`` with the same handler;
- **litestar**: ``Litestar([handler])`` with the same pydantic models (its pydantic plugin).

wrk posts the same 60-byte JSON body (a Lua script) with ``-t2 -c64``; every answer must
be 200 (wrk's non-2xx count fails the run). Rounds are interleaved as in ``bench_http``
and the verdict is the median of the per-round ratios. Goal: at least 2x FastAPI's
requests/s and 1.3x Litestar's.

Run alone: ``.venv/bin/python -m benchmarks handlers`` (``BENCH_HTTP_SECONDS``,
``BENCH_HTTP_ROUNDS`` as for ``http``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchmarks._harness import Row, Stats
from benchmarks.bench_http import _UVICORN, _free_port, _pinned, _wait_ready, _wrk

KINDS = ("ours", "fastapi", "litestar")
PATH = "/items/42?q=hello"
BODY = '{"name": "widget", "price": 9.5, "tags": ["red", "blue"]}'
SCRIPT = f"""
wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


class ItemIn(BaseModel):
    name: str
    price: float
    tags: list[str] = []


class ItemOut(BaseModel):
    id: int
    name: str
    price: float
    tags: list[str]
    q: str | None


# -- the servers (run in a child process: python -m benchmarks.bench_handlers KIND PORT) ---


def _serve(kind: str, port: int) -> None:
    if kind == "ours":
        _serve_ours(port)
        return
    import uvicorn

    app: Any
    if kind == "fastapi":
        from fastapi import FastAPI

        app = FastAPI()

        async def create_fastapi(item_id: int, item: ItemIn, q: str | None = None) -> ItemOut:
            return ItemOut(id=item_id, q=q, **item.model_dump())

        app.post("/items/{item_id}")(create_fastapi)
    else:
        from litestar import Litestar, post

        async def create_litestar(item_id: int, data: ItemIn, q: str | None = None) -> ItemOut:
            return ItemOut(id=item_id, q=q, **data.model_dump())

        handler = post("/items/{item_id:int}", status_code=200)(create_litestar)
        app = Litestar([handler])
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **_UVICORN)).run()


def _serve_ours(port: int) -> None:
    from pymodular import Application, Dependency, Module
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.router import Router, RouterModule

    class Items(Module[Any]):
        name = "items"
        router = Dependency(Router)

        async def init(self, app: Any) -> None:
            async def create(item_id: int, item: ItemIn, q: str | None = None) -> ItemOut:
                return ItemOut(id=item_id, q=q, **item.model_dump())

            self.router.post("/items/{item_id}")(create)
            self.router.get("/json")(lambda request: {"ready": True})

    config = {
        "httpserver": {"host": "127.0.0.1", "port": port},
        "router": {
            "request_id": {"enabled": True},
            "cors": {"enabled": True, "allow_origins": ["https://app.example.com"]},
        },
    }
    app = Application(
        [RouterModule(), Items(), HttpServerModule()], feeders=[DictFeeder(config)], health=True
    )
    raise SystemExit(app.run(loop="uvloop", log_level="WARNING"))


# -- the load -----------------------------------------------------------------------------


def _ready_paths(kind: str) -> str:
    # Each server must answer a GET 200 before the load starts; the typed route is POST.
    return {"ours": "/json", "fastapi": "/openapi.json", "litestar": "/schema/openapi.json"}[kind]


def run() -> list[Row]:
    """Measure the three servers in interleaved rounds; one row with both peers."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run scripts/system-deps.sh (Debian package wrk)")
    seconds = float(os.environ.get("BENCH_HTTP_SECONDS", "2"))
    rounds = int(os.environ.get("BENCH_HTTP_ROUNDS", "8"))
    ports = {kind: _free_port() for kind in KINDS}
    rates: dict[str, list[float]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(SCRIPT)
        processes = {
            kind: subprocess.Popen(
                [*_pinned(0), sys.executable, "-m", "benchmarks.bench_handlers", kind, str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for kind, port in ports.items()
        }
        try:
            for kind in KINDS:
                _wait_ready(ports[kind], processes[kind], path=_ready_paths(kind))
            for kind in KINDS:
                _wrk(ports[kind], 2, PATH, str(script), strict=True)  # warm-up, checks 200s
            for _ in range(rounds):
                for kind in KINDS:
                    rate, _p99 = _wrk(ports[kind], seconds, PATH, str(script), strict=True)
                    rates[kind].append(rate)
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
    stats = {k: Stats.of(v) for k, v in rates.items()}
    to_fastapi = statistics.median(
        o / p for o, p in zip(rates["ours"], rates["fastapi"], strict=True)
    )
    to_litestar = statistics.median(
        o / p for o, p in zip(rates["ours"], rates["litestar"], strict=True)
    )
    return [
        Row(
            target="typed handler req/s (path int + query + pydantic body -> pydantic model), "
            "full stack on uvicorn",
            ours=stats["ours"],
            goal=">= 2x FastAPI, >= 1.3x Litestar",
            met=to_fastapi >= 2.0 and to_litestar >= 1.3,
            peers={"fastapi": stats["fastapi"], "litestar": stats["litestar"]},
            unit="req/s",
            note=f"wrk -t2 -c64 POST, {rounds} x {seconds:g} s; per round "
            f"{to_fastapi:.2f}x FastAPI, {to_litestar:.2f}x Litestar",
        )
    ]


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
