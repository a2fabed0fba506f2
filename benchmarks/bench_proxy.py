"""Reverse proxy throughput and p99 latency beside nginx, and the upstream client's cost.

One nginx (``worker_processes 1``) serves as the backend: ``GET /json`` answers
``{"message":"hello, world"}``. Each proxy forwards to it over pooled keep-alive
connections, one process on one core:

- **ours**: ``Application`` with the router (request id and errors middleware), the
  proxy module (one route, one upstream, breaker and outlier detection on) and the
  httpserver, on uvloop;
- **nginx**: ``proxy_pass`` with an upstream ``keepalive`` pool, ``worker_processes 1``;
- **aiohttp**: a minimal aiohttp proxy (``aiohttp.web`` server, one ``ClientSession``,
  hop-by-hop headers dropped, the body read whole);
- **httpx**: the same minimal proxy as a raw ASGI app on uvicorn with one
  ``httpx.AsyncClient``.

wrk (``-t2 -c64``, pinned to the other core than the proxy) loads each in
``BENCH_HTTP_ROUNDS`` interleaved rounds of ``BENCH_HTTP_SECONDS`` (defaults 8 and 2);
ratios are the median over rounds of the ratio within a round. Goal (issue 17): at least
0.2x nginx's requests/s and ahead of both Python proxies.

A row measures the upstream client alone, in process: 64 concurrent requests to the
backend with our pooled httptools client, aiohttp's ``ClientSession`` and
``httpx.AsyncClient`` (decision 0220 chose the client on this). The last row times
WebSocket messages relayed by the proxy beside a direct connection and nginx's
WebSocket proxy (``benchmarks/_proxy_websocket.py``).

Run alone: ``.venv/bin/python -m benchmarks proxy``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, Stats, interleaved_async
from benchmarks._proxy_websocket import websocket_row
from benchmarks.bench_http import _free_port, _wait_ready, interleaved_load, per_round

KINDS = ("ours", "nginx", "aiohttp", "httpx")
BODY = '{"message":"hello, world"}'
HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


# -- nginx ----------------------------------------------------------------------------------


def _nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "nginx is not installed: run scripts/system-deps.sh (Debian package nginx)"
        )
    return found


def _nginx_config(directory: Path, server: str) -> Path:
    """A foreground nginx with one worker, its files under ``directory``."""
    for sub in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / sub).mkdir(exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(
        f"""
daemon off;
master_process on;
worker_processes 1;
pid {directory}/nginx.pid;
error_log stderr error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {directory}/client;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 100000;
    {server}
}}
"""
    )
    return config


def _backend_server(port: int) -> str:
    return f"""
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{BODY}';
        }}
    }}"""


def _proxy_server(port: int, backend: int) -> str:
    return f"""
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}"""


@contextlib.contextmanager
def proxy_backend() -> Iterator[int]:
    """The nginx backend every proxy forwards to (on the load generator's core): its port,
    also in ``BENCH_PROXY_BACKEND`` for the proxies started meanwhile."""
    directory = Path(tempfile.mkdtemp(prefix="bench-proxy-backend-"))
    port = _free_port()
    config = _nginx_config(directory, _backend_server(port))
    pin = ["taskset", "-c", "1"] if (os.cpu_count() or 1) >= 2 and shutil.which("taskset") else []
    process = subprocess.Popen(
        [*pin, _nginx_binary(), "-p", str(directory), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    atexit.register(shutil.rmtree, directory, True)
    try:
        _wait_ready(port, process)
        os.environ["BENCH_PROXY_BACKEND"] = str(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


# -- the proxies (children: python -m benchmarks.bench_proxy KIND PORT) ----------------------


def _serve(kind: str, port: int) -> None:
    backend = int(os.environ["BENCH_PROXY_BACKEND"])
    if kind == "ours":
        _serve_ours(port, backend)
    elif kind == "nginx":
        directory = Path(tempfile.mkdtemp(prefix="bench-proxy-nginx-"))
        config = _nginx_config(directory, _proxy_server(port, backend))
        binary = _nginx_binary()
        os.execv(binary, [binary, "-p", str(directory), "-c", str(config)])  # SIGTERM stops it
    elif kind == "aiohttp":
        _serve_aiohttp(port, backend)
    else:
        _serve_httpx(port, backend)


def _serve_ours(port: int, backend: int) -> None:
    from pymodular import Application
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.proxy import ProxyModule
    from pymodular.modules.router import RouterModule

    config = {
        "httpserver": {"host": "127.0.0.1", "port": port},
        "proxy": {
            "upstreams": {"backend": {"targets": [f"http://127.0.0.1:{backend}"]}},
            "routes": [{"path": "/", "upstream": "backend"}],
        },
    }
    app = Application(
        [RouterModule(), ProxyModule(), HttpServerModule()],
        feeders=[DictFeeder(config)],
        health=True,
    )
    raise SystemExit(app.run(loop="uvloop", log_level="WARNING"))


def _serve_aiohttp(port: int, backend: int) -> None:
    import aiohttp
    import uvloop
    from aiohttp import web

    base = f"http://127.0.0.1:{backend}"

    async def handler(request: web.Request) -> web.Response:
        session: aiohttp.ClientSession = request.app["session"]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        headers["X-Forwarded-For"] = request.remote or ""
        async with session.request(
            request.method, base + request.path_qs, headers=headers, data=await request.read()
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP}
            return web.Response(body=body, status=answer.status, headers=kept)

    async def session(app: web.Application) -> Any:
        app["session"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256), auto_decompress=False
        )
        yield
        await app["session"].close()

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", handler)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _serve_httpx(port: int, backend: int) -> None:
    import httpx
    import uvicorn

    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{backend}",
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
    )

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.decode().lower() not in HOP]
        client_address = scope["client"][0] if scope.get("client") else ""
        headers.append((b"x-forwarded-for", client_address.encode()))
        path = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        answer = await client.request(scope["method"], path.decode(), headers=headers, content=body)
        kept = [(k, v) for k, v in answer.headers.raw if k.decode().lower() not in HOP]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": kept})
        await send({"type": "http.response.body", "body": answer.content})

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
    )
    uvicorn.Server(config).run()


# -- the rows -------------------------------------------------------------------------------


def run() -> list[Row]:
    """Start the backend, load every proxy in interleaved rounds, then time the clients."""
    with proxy_backend() as port:
        cpu: dict[str, list[float]] = {}
        rates, p99s, rounds, seconds = interleaved_load(
            "benchmarks.bench_proxy", KINDS, strict=True, cpu=cpu
        )
        rows = _load_rows(rates, p99s, rounds, seconds)
        rows.append(_cpu_row(cpu))
        rows.append(_client_row(port))
        rows.append(websocket_row())
    return rows


def _load_rows(
    rates: dict[str, list[float]], p99s: dict[str, list[float]], rounds: int, seconds: float
) -> list[Row]:
    rate = {k: Stats.of(v) for k, v in rates.items()}
    p99 = {k: Stats.of(v) for k, v in p99s.items()}
    to_nginx = per_round(rates, "ours", "nginx")
    to_aiohttp = per_round(rates, "ours", "aiohttp")
    to_httpx = per_round(rates, "ours", "httpx")
    return [
        Row(
            target="reverse proxy req/s (router + proxy module + httpserver, uvloop) to nginx",
            ours=rate["ours"],
            goal=">= 0.2x nginx, ahead of aiohttp and httpx proxies",
            met=to_nginx >= 0.2 and to_aiohttp > 1 and to_httpx > 1,
            peers={"nginx": rate["nginx"], "aiohttp": rate["aiohttp"], "httpx": rate["httpx"]},
            unit="req/s",
            note=(
                f"wrk -t2 -c64, {rounds} x {seconds:g} s; per round: {to_nginx:.2f}x nginx, "
                f"{to_aiohttp:.2f}x aiohttp, {to_httpx:.2f}x httpx"
            ),
        ),
        Row(
            target="reverse proxy p99 latency",
            ours=p99["ours"],
            goal="p99 below the Python proxies'",
            met=p99["ours"].median < min(p99["aiohttp"].median, p99["httpx"].median),
            peers={"nginx": p99["nginx"], "aiohttp": p99["aiohttp"], "httpx": p99["httpx"]},
            note="median / max of the rounds' p99",
        ),
    ]


def _cpu_row(cpu: dict[str, list[float]]) -> Row:
    """CPU time each proxy spent per request (its processes, during the wrk runs)."""
    stats = {k: Stats.of(v) for k, v in cpu.items()}
    share = per_round(cpu, "nginx", "ours")
    return Row(
        target="reverse proxy CPU time per request (the proxy's processes, under wrk)",
        ours=stats["ours"],
        goal="<= 5x nginx's (0.2x its efficiency), below the Python proxies'",
        met=share >= 0.2
        and stats["ours"].median < min(stats["aiohttp"].median, stats["httpx"].median),
        peers={"nginx": stats["nginx"], "aiohttp": stats["aiohttp"], "httpx": stats["httpx"]},
        note=f"nginx/ours per round {share:.2f}; less disturbed than req/s on a busy machine",
    )


def _client_row(port: int) -> Row:
    """Per-request time of 64 concurrent GETs through each client (in process)."""
    return asyncio.run(_clients(port))


async def _clients(port: int) -> Row:
    import aiohttp
    import httpx

    from pymodular.modules.proxy._upstream import Pool

    concurrency, batches = 64, 8
    pool = Pool(
        "127.0.0.1",
        port,
        upstream="bench",
        max_connections=concurrency,
        connect_timeout=5,
        pool_timeout=5,
        idle_timeout=30,
        read_timeout=10,
        max_header_bytes=65536,
    )
    head = f"GET /json HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode()

    async def ours_one() -> None:
        connection = await pool.acquire()
        answer = connection.start(head, no_body=False)
        await answer.head(10)
        while await answer.read(10):
            pass
        pool.release(connection, reusable=answer.keep_alive and answer.done)

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    )
    url = f"http://127.0.0.1:{port}/json"

    async def aiohttp_one() -> None:
        async with session.get(url) as answer:
            await answer.read()

    async def httpx_one() -> None:
        await client.get(url)

    def batch(one: Any) -> Any:
        async def run_batch() -> None:
            for _ in range(batches):
                await asyncio.gather(*(one() for _ in range(concurrency)))

        return run_batch

    found = await interleaved_async(
        {"ours": batch(ours_one), "aiohttp": batch(aiohttp_one), "httpx": batch(httpx_one)},
        repeat=15,
    )
    await session.close()
    await client.aclose()
    pool.close()
    per = concurrency * batches
    stats = {k: Stats(v.median / per, v.p95 / per, v.samples) for k, v in found.items()}
    ratio_a = stats["ours"].median / stats["aiohttp"].median
    ratio_h = stats["ours"].median / stats["httpx"].median
    return Row(
        target="upstream client: time per GET, 64 concurrent, to nginx (in process)",
        ours=stats["ours"],
        goal="less than aiohttp and httpx",
        met=ratio_a < 1 and ratio_h < 1,
        peers={"aiohttp": stats["aiohttp"], "httpx": stats["httpx"]},
        note=f"ours/aiohttp {ratio_a:.2f}, ours/httpx {ratio_h:.2f}; default asyncio loop",
    )


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
    time.sleep(0)
