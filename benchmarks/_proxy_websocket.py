"""WebSocket message relay: round trips through our proxy beside a direct connection and
nginx's WebSocket proxy (a row of ``benchmarks/bench_proxy.py``).

A ``websockets`` echo server (uvloop, one process, on the load generator's core) is the
backend. Each sample: ``CLIENTS`` connections already open, each sending ``MESSAGES``
64-byte text messages one after the other and waiting for each echo; the time per
message is the sample's time divided by ``CLIENTS x MESSAGES``. The three ways are
sampled in turn (interleaved) from one client process:

- **direct**: to the echo server;
- **ours**: through ``Application`` with the router, the proxy module (one route) and
  the httpserver (uvloop), as in the HTTP rows;
- **nginx**: ``proxy_pass`` with ``Upgrade``/``Connection`` set, one worker.

Children: ``python -m benchmarks._proxy_websocket KIND PORT BACKEND``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks._harness import Row, Stats, interleaved_async

CLIENTS = 16
MESSAGES = 50
MESSAGE = "m" * 64


def _free_port() -> int:
    from benchmarks.bench_http import _free_port as free

    return free()


def _nginx_server(port: int, backend: int) -> str:
    return f"""
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 300s;
        }}
    }}"""


def _serve(kind: str, port: int, backend: int) -> None:
    if kind == "echo":
        _serve_echo(port)
    elif kind == "ours":
        from benchmarks.bench_proxy import _serve_ours

        _serve_ours(port, backend)
    else:
        from benchmarks.bench_proxy import _nginx_binary, _nginx_config

        directory = Path(tempfile.mkdtemp(prefix="bench-proxy-ws-nginx-"))
        config = _nginx_config(directory, _nginx_server(port, backend))
        binary = _nginx_binary()
        os.execv(binary, [binary, "-p", str(directory), "-c", str(config)])


def _serve_echo(port: int) -> None:
    import uvloop
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", port, compression=None):
            await asyncio.Event().wait()

    uvloop.run(main())


def _start(kind: str, port: int, backend: int, *, core: str) -> subprocess.Popen[bytes]:
    pin = ["taskset", "-c", core] if (os.cpu_count() or 1) >= 2 and shutil.which("taskset") else []
    return subprocess.Popen(
        [*pin, sys.executable, "-m", "benchmarks._proxy_websocket", kind, str(port), str(backend)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    from websockets.asyncio.client import connect

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"benchmark server exited with {process.returncode}")
        try:
            async with connect(f"ws://127.0.0.1:{port}/ready", compression=None) as probe:
                await probe.send("x")
                await probe.recv()
                return
        except (OSError, Exception):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def websocket_row() -> Row:
    """Time per relayed message: direct, ours, nginx (see the module docstring)."""
    backend = _free_port()
    echo = _start("echo", backend, 0, core="1")
    proxies: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for kind in ("ours", "nginx"):
            port = _free_port()
            proxies[kind] = (port, _start(kind, port, backend, core="0"))
        return asyncio.run(_measure(backend, echo, proxies))
    finally:
        for _, process in proxies.values():
            process.terminate()
        echo.terminate()
        for process in (echo, *(p for _, p in proxies.values())):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


async def _measure(
    backend: int,
    echo: subprocess.Popen[bytes],
    proxies: dict[str, tuple[int, subprocess.Popen[bytes]]],
) -> Row:
    from websockets.asyncio.client import ClientConnection, connect

    await _ready(backend, echo)
    ports = {"direct": backend}
    for kind, (port, process) in proxies.items():
        await _ready(port, process)
        ports[kind] = port
    clients: dict[str, list[ClientConnection]] = {
        kind: [
            await connect(f"ws://127.0.0.1:{port}/echo", compression=None) for _ in range(CLIENTS)
        ]
        for kind, port in ports.items()
    }

    async def talk(client: ClientConnection) -> None:
        for _ in range(MESSAGES):
            await client.send(MESSAGE)
            await client.recv()

    def sample(kind: str) -> Callable[[], Awaitable[None]]:
        async def run_sample() -> None:
            await asyncio.gather(*(talk(c) for c in clients[kind]))

        return run_sample

    rounds = int(os.environ.get("BENCH_WS_ROUNDS", "21"))
    found = await interleaved_async({k: sample(k) for k in ports}, repeat=rounds)
    for connections in clients.values():
        for client in connections:
            await client.close()
    per = CLIENTS * MESSAGES
    stats = {k: Stats(v.median / per, v.p95 / per, v.samples) for k, v in found.items()}
    to_nginx = stats["ours"].median / stats["nginx"].median
    to_direct = stats["ours"].median / stats["direct"].median
    return Row(
        target=f"WebSocket relay: time per echoed message, {CLIENTS} connections at once",
        ours=stats["ours"],
        goal="at most 2x nginx's time per message",
        met=to_nginx <= 2,
        peers={"direct": stats["direct"], "nginx": stats["nginx"]},
        note=(
            f"{rounds} interleaved samples of {CLIENTS} x {MESSAGES} round trips of 64 bytes; "
            f"ours/nginx {to_nginx:.2f}, ours/direct {to_direct:.2f}"
        ),
    )


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
