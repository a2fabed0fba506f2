"""HTTP throughput and p99 latency: the full module stack beside Starlette, FastAPI, Litestar.

Every server answers ``GET /json`` with ``{"message": "hello, world"}`` on uvicorn
with the same settings (uvloop, httptools, one process, no access log, no proxy
headers, no Server header, fresh context per request):

- **ours**: ``Application`` with the router module (request id + CORS middleware on,
  errors middleware as always) and the httpserver module (header/body limits, read
  timeouts, health probes), health aggregation on;
- **starlette**: ``Starlette(routes=[Route("/json", ...)])`` on ``uvicorn.Server``;
- **fastapi**: ``FastAPI()`` with ``@app.get("/json")`` on ``uvicorn.Server``;
- **litestar**: ``Litestar([json_route])`` with ``@get("/json")`` on ``uvicorn.Server``.

wrk (Debian's) warms each server up for 2 s, then loads it for ``BENCH_HTTP_SECONDS``
(default 2) with ``-t2 -c64`` against 127.0.0.1, in ``BENCH_HTTP_ROUNDS`` (default 8)
interleaved rounds (about a minute in all), server and wrk pinned to separate cores.
Goal: at least 90% of Starlette's requests/s (the median, over rounds, of ours/Starlette
within each round, which cancels the machine's drift between rounds) and more than
FastAPI's. A second row sets ours beside Litestar per round (expected: ours about
Starlette, Litestar about 0.6-0.7x Starlette, FastAPI 0.3-0.5x; the first row's note
gives each peer's per-round ratio to Starlette). The last row measures, in-process,
what a request id middleware costs as pure ASGI and as Starlette's ``BaseHTTPMiddleware``.

Run alone: ``.venv/bin/python -m benchmarks http``.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, Stats, interleaved_async

KINDS = ("ours", "starlette", "fastapi", "litestar")
PAYLOAD = {"message": "hello, world"}
_UVICORN = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "off",
    "log_config": None,
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "reset_contextvars": True,
}


# -- the servers (run in a child process: python -m benchmarks.bench_http KIND PORT) --------


def _serve(kind: str, port: int) -> None:
    if kind == "ours":
        _serve_ours(port)
        return
    import uvicorn

    app: Any
    if kind == "starlette":
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def json_route(request: Any) -> JSONResponse:
            return JSONResponse(PAYLOAD)

        app = Starlette(routes=[Route("/json", json_route)])
    elif kind == "litestar":
        from litestar import Litestar, get

        @get("/json")
        async def litestar_json_route() -> dict[str, str]:
            return PAYLOAD

        app = Litestar([litestar_json_route])
    else:
        from fastapi import FastAPI

        app = FastAPI()

        @app.get("/json")
        async def json_route() -> dict[str, str]:
            return PAYLOAD

    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **_UVICORN)).run()


def full_stack(port: int, routes: Any) -> Any:
    """The application every "ours" server runs: router (request id, CORS, errors),
    ``routes(router)`` added by a module's init, the httpserver, health on."""
    from pymodular import Application, Dependency, Module
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.router import Router, RouterModule

    class Routes(Module[Any]):
        name = "routes"
        router = Dependency(Router)

        async def init(self, app: Any) -> None:
            routes(self.router)

    config = {
        "httpserver": {"host": "127.0.0.1", "port": port},
        "router": {
            "request_id": {"enabled": True},
            "cors": {"enabled": True, "allow_origins": ["https://app.example.com"]},
        },
    }
    return Application(
        [RouterModule(), Routes(), HttpServerModule()], feeders=[DictFeeder(config)], health=True
    )


def json_routes(router: Any) -> None:
    """``GET /json`` as a plain ``handler(request)``."""

    @router.get("/json")
    async def json_route(request: Any) -> dict[str, str]:
        return PAYLOAD


def _serve_ours(port: int) -> None:
    app = full_stack(port, json_routes)
    raise SystemExit(app.run(loop="uvloop", log_level="WARNING"))


# -- the load -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(
    port: int, process: subprocess.Popen[bytes], timeout: float = 20.0, path: str = "/json"
) -> None:
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"benchmark server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"benchmark server on port {port} did not answer within {timeout:g} s")


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _pinned(cpu: int) -> list[str]:
    """``taskset -c CPU`` when there are two CPUs or more: the server and wrk then never
    compete for one core, which is most of the run-to-run noise on a small machine."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


def _wrk(
    port: int,
    seconds: float,
    path: str = "/json",
    script: str | None = None,
    *,
    strict: bool = False,
) -> tuple[float, float]:
    """Requests/s and p99 latency (seconds) of one wrk run (``script``: a wrk Lua file).

    ``strict`` fails the run when any answer was not 2xx/3xx or a connection broke."""
    out = subprocess.run(
        [
            *_pinned(1),
            "wrk",
            "-t2",
            "-c64",
            f"-d{seconds:g}s",
            "--latency",
            *(["-s", script] if script else []),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if rate is None or p99 is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    if errors:
        # A wrong answer or a broken connection fails a strict run; wrk's "timeout" only
        # counts answers slower than its 2 s timeout, which a loaded machine produces.
        broken = re.search(r"Non-2xx|connect [1-9]|read [1-9]|write [1-9]", errors.group(0))
        if strict and broken:
            raise RuntimeError(f"wrk reported errors on port {port}{path}: {errors.group(0)}")
        print(f"wrk reported errors on port {port}: {errors.group(0)}", file=sys.stderr)
    return float(rate.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)]


def interleaved_load(
    module: str,
    kinds: tuple[str, ...],
    *,
    path: str = "/json",
    script: str | None = None,
    ready: dict[str, str] | None = None,
    strict: bool = False,
    cpu: dict[str, list[float]] | None = None,
    settle: Callable[[str], None] | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[float]], int, float]:
    """Start ``python -m MODULE KIND PORT`` for each kind, load them with wrk in
    interleaved rounds; return requests/s and p99 per kind, rounds and seconds per round.

    ``settle``, when given, is called with the kind after each of its rounds and returns
    once the server finished the work those requests started (events recorded, say);
    the time it took counts in the round, so a server cannot look faster by leaving work
    for after the measurement.

    ``ready`` maps a kind to the GET path that answers 200 once it serves. ``cpu``, when
    given, receives per kind and round the CPU seconds the server's processes (the one
    started and its children) spent per request: a figure that a busy machine disturbs
    far less than requests/s.
    """
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run scripts/system-deps.sh (Debian package wrk)")
    seconds = float(os.environ.get("BENCH_HTTP_SECONDS", "2"))
    rounds = int(os.environ.get("BENCH_HTTP_ROUNDS", "8"))
    ports = {kind: _free_port() for kind in kinds}
    processes = {
        kind: subprocess.Popen(
            [*_pinned(0), sys.executable, "-m", module, kind, str(ports[kind])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for kind in kinds
    }
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    p99s: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for kind in kinds:
            _wait_ready(ports[kind], processes[kind], path=(ready or {}).get(kind, "/json"))
        for kind in kinds:  # warm-up: imports, caches, connection setup
            _wrk(ports[kind], 2, path, script, strict=strict)
            if settle is not None:
                settle(kind)
            _quiesce(processes[kind].pid)
        for _ in range(rounds):
            for kind in kinds:
                before = _cpu_seconds(processes[kind].pid)
                rate, p99 = _wrk(ports[kind], seconds, path, script, strict=strict)
                served = rate * seconds
                if settle is not None:
                    started = time.perf_counter()
                    settle(kind)
                    rate = served / (seconds + time.perf_counter() - started)
                rates[kind].append(rate)
                p99s[kind].append(p99)
                if cpu is not None:
                    spent = _cpu_seconds(processes[kind].pid) - before
                    cpu.setdefault(kind, []).append(spent / max(1.0, served))
                _quiesce(processes[kind].pid)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    return rates, p99s, rounds, seconds


def _quiesce(pid: int, timeout: float = 10.0) -> None:
    """Return once ``pid`` (and its children) stopped using CPU: a server still working
    off requests wrk abandoned at the end of its round would otherwise share the core
    with the next contender's first requests (1% of a 2 s round is 20 ms: its p99)."""
    deadline = time.monotonic() + timeout
    last = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = _cpu_seconds(pid)
        if now - last < 0.005:  # under 10% of a core over the interval
            return
        last = now


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or no /proc: counts nothing
    return total


def per_round(rates: dict[str, list[float]], ours: str, peer: str) -> float:
    """The median over rounds of ``ours / peer`` within each round (cancels the drift).

    A round where the peer served nothing (every request timed out on a starved machine)
    says nothing about the ratio and is left out; with no round left the ratio is NaN,
    which meets no goal.
    """
    ratios = [a / b for a, b in zip(rates[ours], rates[peer], strict=True) if b > 0]
    return statistics.median(ratios) if ratios else math.nan


def run() -> list[Row]:
    """Measure the four servers in interleaved rounds and return four rows."""
    rates, p99s, rounds, seconds = interleaved_load("benchmarks.bench_http", KINDS)
    rows = _load_rows(rates, p99s, rounds, seconds)
    rows.append(_middleware_row())
    return rows


def _load_rows(
    rates: dict[str, list[float]], p99s: dict[str, list[float]], rounds: int, seconds: float
) -> list[Row]:
    rate = {k: Stats.of(v) for k, v in rates.items()}
    p99 = {k: Stats.of(v) for k, v in p99s.items()}
    # Each round measures the servers back to back, so the ratio within a round cancels
    # the machine's drift between rounds; the median of those ratios is the verdict.
    ratio = per_round(rates, "ours", "starlette")
    to_litestar = per_round(rates, "ours", "litestar")
    peers = ", ".join(
        f"{name} {per_round(rates, kind, 'starlette'):.2f}x"
        for kind, name in (("litestar", "Litestar"), ("fastapi", "FastAPI"))
    )
    return [
        Row(
            target="HTTP JSON route req/s, full stack (router + request id + CORS) on uvicorn",
            ours=rate["ours"],
            goal=">= 90% of Starlette, > FastAPI",
            met=ratio >= 0.9 and rate["ours"].median > rate["fastapi"].median,
            peers={"starlette": rate["starlette"], "fastapi": rate["fastapi"]},
            unit="req/s",
            note=(
                f"wrk -t2 -c64, {rounds} x {seconds:g} s; {ratio:.0%} of Starlette per round"
                f" ({peers} Starlette)"
            ),
        ),
        Row(
            target="HTTP JSON route req/s, full stack beside Litestar (same run, same uvicorn)",
            ours=rate["ours"],
            goal="> Litestar",
            met=to_litestar > 1.0,
            peers={"litestar": rate["litestar"]},
            unit="req/s",
            note=f"{to_litestar:.2f}x Litestar per round",
        ),
        Row(
            target="HTTP JSON route p99 latency, full stack",
            ours=p99["ours"],
            goal="p99 below FastAPI's",
            met=p99["ours"].median < p99["fastapi"].median,
            peers={
                "starlette": p99["starlette"],
                "fastapi": p99["fastapi"],
                "litestar": p99["litestar"],
            },
            note="median / max of the rounds' p99",
        ),
    ]


def _middleware_row() -> Row:
    """In-process cost of a request id middleware: pure ASGI vs BaseHTTPMiddleware."""
    from starlette.middleware.base import BaseHTTPMiddleware

    from pymodular._context import correlation_id
    from pymodular.modules.router import Router
    from pymodular.modules.router._request_id import RequestIdMiddleware, new_request_id

    class RequestIdBase(BaseHTTPMiddleware):
        async def dispatch(self, request: Any, call_next: Any) -> Any:
            request_id = new_request_id()
            token = correlation_id.set(request_id)
            try:
                response = await call_next(request)
            finally:
                correlation_id.reset(token)
            response.headers["x-request-id"] = request_id
            return response

    async def json_route(request: Any) -> dict[str, str]:
        return PAYLOAD

    def router(middleware: Any) -> Router:
        made = Router()
        made.get("/json")(json_route)
        if middleware is not None:
            made.use(middleware, name="request_id", order=100)
        return made

    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    def call(app: Router) -> Any:
        scope = {"type": "http", "method": "GET", "path": "/json", "root_path": "",
                 "query_string": b"", "headers": headers, "state": {}}  # fmt: skip
        return app(scope, receive, send)

    apps = {
        "pure": router(RequestIdMiddleware),
        "base": router(RequestIdBase),
        "none": router(None),
    }
    # One call of each router in turn, in one event loop: noise hits all three alike.
    stats = asyncio.run(
        interleaved_async(
            {name: functools.partial(call, app) for name, app in apps.items()},
            repeat=3000,
            warmup=200,
        )
    )
    return Row(
        target="request id middleware per request (router, in-process): pure ASGI",
        ours=stats["pure"],
        goal="cheaper than BaseHTTPMiddleware",
        met=stats["pure"].median < stats["base"].median,
        peers={"BaseHTTPMiddleware": stats["base"]},
        floor=("no request id", stats["none"]),
    )


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
