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

import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchmarks._harness import Row, Stats
from benchmarks.bench_http import _UVICORN, full_stack, interleaved_load, json_routes, per_round

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


def _typed_routes(router: Any) -> None:
    async def create(item_id: int, item: ItemIn, q: str | None = None) -> ItemOut:
        return ItemOut(id=item_id, q=q, **item.model_dump())

    router.post("/items/{item_id}")(create)
    json_routes(router)


def _serve_ours(port: int) -> None:
    app = full_stack(port, _typed_routes)
    raise SystemExit(app.run(loop="uvloop", log_level="WARNING"))


# -- the load -----------------------------------------------------------------------------


def run() -> list[Row]:
    """Measure the three servers in interleaved rounds; one row with both peers."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(SCRIPT)
        rates, _p99s, rounds, seconds = interleaved_load(
            "benchmarks.bench_handlers",
            KINDS,
            path=PATH,
            script=str(script),
            ready={"fastapi": "/openapi.json", "litestar": "/schema/openapi.json"},
            strict=True,
        )
    stats = {k: Stats.of(v) for k, v in rates.items()}
    to_fastapi = per_round(rates, "ours", "fastapi")
    to_litestar = per_round(rates, "ours", "litestar")
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
