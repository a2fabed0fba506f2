"""``make run-prod``: the showcase on PostgreSQL, Redis and NATS, three replicas behind
the reverse proxy.

``python -m examples.showcase.prod`` creates the database when it is missing, makes the
demo credentials, starts the replicas (``python -m examples.showcase`` with
``config.prod.yaml``, named r1, r2, r3), then serves the front: an application of the
router, the reverse proxy (round robin, active health checks on ``/readyz``, passive
ejection, retries of what is safe to retry) and the HTTP server. A replica that dies is
started again on its port; a start that fails is retried with a backoff (logged) while
the others serve; the proxy's health checks take it out and back in.

SIGTERM or Ctrl-C stops the front first (it stops accepting and finishes the requests it
forwarded), then sends SIGTERM to every replica, which drains in turn: nothing a client
was told succeeded is lost.

Environment: ``SHOWCASE_PORT`` (the front, 8080; ``0`` picks one), ``SHOWCASE_REPLICAS``
(3), ``SHOWCASE_REPLICA_PORTS`` (``8081,8082,8083``; ``0`` for any),
``SHOWCASE_RESTART_BACKOFF`` (``0.5,30``), ``SHOWCASE_DATABASE_URL``
(``postgresql://postgres@127.0.0.1:5432/showcase``), ``SHOWCASE_DATA``
(``var/showcase-prod``), and anything the replicas read (``APP_*``, ``SHOWCASE_CONFIG``
files applied after ``config.prod.yaml``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from examples.showcase import HERE, LISTENING
from examples.showcase.demo import write_demo_credentials
from examples.showcase.front import create_front
from pymodular.logs import configure_logging
from pymodular.modules.httpserver import HttpServer

__all__ = ("Backoff", "Replica", "ReplicaStartError", "ensure_database", "main", "serve")

PROD_CONFIG = HERE / "config.prod.yaml"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/showcase"
START_TIMEOUT = 60.0
"""Seconds a starting replica has to print the line with its URL."""


class ReplicaStartError(RuntimeError):
    """A replica process exited, or stayed silent, instead of listening."""


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts to start a replica again: ``first`` doubled after each
    failure up to ``longest``. A replica that served ``settle`` seconds or more before
    it died is started again at once (its failures are forgotten).

    ``SHOWCASE_RESTART_BACKOFF`` sets ``first,longest`` (default ``0.5,30``).
    """

    first: float = 0.5
    longest: float = 30.0
    settle: float = 60.0

    @classmethod
    def parse(cls, text: str | None) -> Backoff:
        """From ``"first,longest"``; the defaults when ``text`` is empty."""
        if not text:
            return cls()
        first, longest = (float(part) for part in text.split(","))
        if not 0 < first <= longest:
            raise ValueError(f"SHOWCASE_RESTART_BACKOFF={text!r}: expected 0 < first <= longest")
        return cls(first, longest)

    def delay(self, failures: int) -> float:
        """Seconds to wait before the next attempt after ``failures`` in a row (0: none)."""
        if failures <= 0:
            return 0.0
        return min(self.longest, self.first * 2.0 ** min(failures - 1, 32))


@dataclass
class Replica:
    """One replica process: its name, port and the process running now."""

    name: str
    port: int
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    url: str = ""
    starts: int = 0
    exits: list[int] = field(default_factory=list)
    started_at: float = 0.0
    _relay: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Start the process; return its URL once it listens.

        Raises :class:`ReplicaStartError` when it exits or stays silent for
        ``START_TIMEOUT`` seconds instead (a process that stays silent is killed).
        """
        env = {**self.env, "SHOWCASE_REPLICA": self.name, "APP_HTTPSERVER__PORT": str(self.port)}
        self.process = process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "examples.showcase",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches the launcher only: it stops them in order
        )
        self.starts += 1
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT):
                line = (await process.stdout.readline()).decode()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ReplicaStartError(
                f"replica {self.name} printed nothing within {START_TIMEOUT:g} s (killed)"
            ) from None
        found = LISTENING.search(line)
        if not found:
            code = await process.wait()
            raise ReplicaStartError(f"replica {self.name} did not start (exit code {code})")
        self.url = found.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])  # keep the port across restarts
        self.started_at = time.monotonic()
        self._relay = asyncio.create_task(_forward(process.stdout, f"[{self.name}] "))
        return self.url

    async def stop(self) -> int:
        """SIGTERM, then the exit code."""
        process = self.process
        if process is None or process.returncode is not None:
            return 0 if process is None else process.returncode or 0
        process.terminate()
        return await process.wait()


async def ensure_database(url: str) -> None:
    """Create the database ``url`` names when the server does not have it yet."""
    import asyncpg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    connection = await asyncpg.connect(admin)
    try:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not found:
            escaped = name.replace('"', '""')
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a racing launcher
                await connection.execute(f'CREATE DATABASE "{escaped}"')
    finally:
        await connection.close()


async def serve(environ: Mapping[str, str], stop: asyncio.Event) -> int:
    """Run the replicas and the front until ``stop`` is set; the exit code."""
    data = Path(environ.get("SHOWCASE_DATA", "var/showcase-prod"))
    database = environ.get("SHOWCASE_DATABASE_URL", DEFAULT_DATABASE)
    count = int(environ.get("SHOWCASE_REPLICAS", "3"))
    ports = [int(p) for p in environ.get("SHOWCASE_REPLICA_PORTS", "8081,8082,8083").split(",")]
    ports += [0] * (count - len(ports))
    await ensure_database(database)
    write_demo_credentials(data)
    extra = environ.get("SHOWCASE_CONFIG", "")
    env = {
        **environ,
        "SHOWCASE_DATA": str(data),
        "SHOWCASE_CONFIG": ":".join(p for p in (str(PROD_CONFIG), extra) if p),
        "APP_DB_DEFAULT_DSN": database,
    }
    replicas = [Replica(f"r{n + 1}", ports[n], env) for n in range(count)]
    urls = list(await asyncio.gather(*(r.start() for r in replicas)))
    port = int(environ.get("SHOWCASE_PORT", "8080"))
    try:
        with _certificates(environ, port) as acme:
            return await _front(
                replicas, urls, port=port, environ=environ, acme=acme, data=data, stop=stop
            )
    finally:  # the front failed to start, or everything stopped: no replica is left behind
        await asyncio.gather(*(r.stop() for r in replicas))


async def _front(
    replicas: list[Replica],
    urls: list[str],
    *,
    port: int,
    environ: Mapping[str, str],
    acme: dict[str, Any] | None,
    data: Path,
    stop: asyncio.Event,
) -> int:
    front = create_front(urls, port=port, environ=environ, acme=acme)
    await front.start()
    url = front.services.get(HttpServer).url
    key = data / "keys" / "acme-admin.key"
    print(
        f"showcase (production profile) listening on {url} (Ctrl-C to stop)\n"
        f"  replicas: {', '.join(f'{r.name} {r.url} (pid {r.process.pid})' for r in replicas if r.process)}\n"  # noqa: E501
        f"  API docs: {url}/docs\n"
        + (
            f"  HTTPS:    {front.services.get('https').url} (certificates from ACME)\n"
            if acme
            else ""
        )
        + f'  try:      curl -H "X-API-Key: $(cat {key})" {url}/api/tasks',
        flush=True,
    )
    backoff = Backoff.parse(environ.get("SHOWCASE_RESTART_BACKOFF"))
    watchers = [asyncio.create_task(_supervise(r, stop, backoff)) for r in replicas]
    await stop.wait()
    await front.stop()  # no new requests; the forwarded ones finish
    for watcher in watchers:
        watcher.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    codes = await asyncio.gather(*(r.stop() for r in replicas))
    print(f"stopped: replicas exited with {list(codes)}", file=sys.stderr, flush=True)
    return 0 if all(code == 0 for code in codes) else 1


async def _supervise(replica: Replica, stop: asyncio.Event, backoff: Backoff) -> None:
    """Start the replica again whenever it dies while the front runs.

    A start that fails (its port is held, the database refuses, ...) is retried after
    the backoff's delay, doubling up to its longest, for as long as the front runs; each
    failure is logged with the next delay. The proxy's health checks keep the replica
    out meanwhile, and the others serve.
    """
    failures = 0
    while not stop.is_set():
        assert replica.process is not None
        code = await replica.process.wait()
        if stop.is_set():
            return
        replica.exits.append(code)
        if time.monotonic() - replica.started_at >= backoff.settle:
            failures = 0
        _say(f"replica {replica.name} exited with {code}; starting it again on port {replica.port}")
        while True:
            delay = backoff.delay(failures)
            if delay:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()
                if stop.is_set():
                    return
            try:
                await replica.start()
            except (ReplicaStartError, OSError) as error:
                failures += 1
                _say(
                    f"replica {replica.name} failed to start (attempt {failures}): {error}; "
                    f"retrying in {backoff.delay(failures):g} s"
                )
                continue
            break
        failures += 1  # a crash soon after this start waits before the next one
        assert replica.process is not None
        _say(f"replica {replica.name} is back (pid {replica.process.pid})")


async def _forward(stream: asyncio.StreamReader, prefix: str) -> None:
    """Copy what a replica prints after its first line to stderr (console spans, say):
    an unread pipe would fill up and stall the replica."""
    async for line in stream:
        sys.stderr.write(prefix + line.decode(errors="replace"))
    sys.stderr.flush()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _certificates(environ: Mapping[str, str], port: int) -> Iterator[dict[str, Any] | None]:
    """The front's ``acme`` settings: none unless ``SHOWCASE_TLS`` asks.

    ``SHOWCASE_TLS=pebble`` starts Debian's pebble on loopback (a test CA whose DNS says
    every name is 127.0.0.1) for the duration; ``SHOWCASE_ACME_DIRECTORY`` names a real
    one (``letsencrypt``, ``letsencrypt-staging`` or a URL; the domains in
    ``SHOWCASE_DOMAINS`` must reach this machine on port 80 for HTTP-01).
    """
    https_port = int(environ.get("SHOWCASE_HTTPS_PORT", "8443"))
    domains = environ.get("SHOWCASE_DOMAINS", "showcase.example.test").split(",")
    storage = str(Path(environ.get("SHOWCASE_DATA", "var/showcase-prod")) / "certificates")
    settings = {"domains": domains, "storage_path": storage, "https_port": https_port}
    if environ.get("SHOWCASE_TLS") == "pebble":
        from pymodular.modules.acme.pebble import Pebble

        with Pebble(http_port=port) as pebble:
            yield {
                **settings,
                "directory": pebble.directory_url,
                "ca_bundle": str(pebble.ca_bundle),
                "email": "ops@example.test",
            }
        return
    directory = environ.get("SHOWCASE_ACME_DIRECTORY")
    yield None if directory is None else {**settings, "directory": directory}


def main() -> int:
    """Serve until SIGINT or SIGTERM."""
    configure_logging("INFO")

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await serve(os.environ, stop)

    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
