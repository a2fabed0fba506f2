"""Instructions per served request, counted by callgrind: an A/B that load cannot disturb.

Requests/s and CPU time per request on a shared machine move by several percent from run
to run of the same code; the number of instructions a request executes does not (about
±0.5k in 200k). This starts the servers of :mod:`benchmarks.bench_observability` (and its
OTLP sink) one at a time under ``valgrind --tool=callgrind``, sends a warm-up, zeroes the
counters, sends ``--requests`` requests over 8 kept-alive connections (each waiting for
its answer), dumps the counters and prints the instructions per request::

    .venv/bin/python -m benchmarks.instructions off metrics default

``unsampled`` is the default's server with ``sample_ratio: 0``: every request's span is
in OpenTelemetry's context with the not-sampled decision, and none is recorded.

``proxy`` is the reverse proxy of :mod:`benchmarks.bench_proxy` (router, proxy module and
httpserver) in front of its nginx backend: the instructions of one proxied request, the
figure decision 0225 compares::

    .venv/bin/python -m benchmarks.instructions proxy

Needs valgrind (Debian package ``valgrind``); each kind takes about 40 s. Not part of
``make bench``: it counts work, not time, and says nothing about cache misses or the
kernel's share, which the served benchmark measures.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_http import _free_port, _wait_ready
from benchmarks.bench_observability import KINDS, otlp_sink
from benchmarks.bench_proxy import proxy_backend

BENCH = "benchmarks.bench_observability"
REQUEST = b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CONNECTIONS = 8


def _answer(sock: socket.socket) -> None:
    """Read one answer (headers with a content-length, then that many bytes)."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[:end].lower()
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(data) >= end + 4 + length:
                return


def _load(port: int, requests: int) -> None:
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    try:
        for _ in range(requests // CONNECTIONS):
            for sock in socks:
                sock.sendall(REQUEST)
            for sock in socks:
                _answer(sock)
    finally:
        for sock in socks:
            sock.close()


def _control(option: str, pid: int) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True)


def count(kind: str, requests: int, out: Path) -> float:
    """Instructions per request of ``kind``'s server."""
    port = _free_port()
    server = ["benchmarks.bench_proxy", "ours"] if kind == "proxy" else [BENCH, kind]
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/{kind}.%p",
         sys.executable, "-m", *server, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_ready(port, process, timeout=300)  # valgrind starts it slowly
        _load(port, 600)  # warm-up: imports, caches, connection setup
        _control("-z", process.pid)  # zero the counts
        _load(port, requests)
        _control("-d", process.pid)  # dump them
    finally:
        process.terminate()
        process.wait(timeout=60)
    (dump,) = out.glob(f"{kind}.{process.pid}.1")
    for line in dump.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1]) / (requests // CONNECTIONS * CONNECTIONS)
    raise RuntimeError(f"no summary in {dump}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="+", choices=(*KINDS, "unsampled", "proxy"))
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian package valgrind)", file=sys.stderr)
        return 2
    found: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        if "proxy" in args.kinds:  # the nginx the proxy forwards to
            stack.enter_context(proxy_backend())
        stack.enter_context(otlp_sink([]))
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        for kind in args.kinds:
            found[kind] = count(kind, args.requests, Path(tmp))
            print(f"{kind:8s} {found[kind] / 1000:8.1f}k instructions per request", flush=True)
    if "off" in found:
        for kind, value in found.items():
            if kind != "off":
                print(f"{kind:8s} {found['off'] / value:.1%} of off's instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
