"""A private ACME server on loopback: Debian's ``pebble`` with ``pebble-challtestsrv``.

For testing an application's certificates end to end without the Internet::

    from pymodular.modules.acme.pebble import Pebble

    with Pebble(http_port=5002) as pebble:       # the port your HTTP server listens on
        config = {"acme": {"directory": pebble.directory_url,
                           "ca_bundle": str(pebble.ca_bundle), ...}}

``start`` creates a throw-away CA with ``openssl`` for pebble's own HTTPS listener
(:attr:`Pebble.ca_bundle` trusts it), starts ``pebble-challtestsrv`` as the DNS server
that resolves every name to 127.0.0.1 (and holds DNS-01 TXT records, see
:class:`ChallTestSrvDNS`), then starts ``pebble`` pointed at it. Pebble validates HTTP-01
on ``http_port`` and TLS-ALPN-01 on ``tls_port`` of 127.0.0.1. Every port is free and on
loopback; :meth:`Pebble.stop` and :meth:`Pebble.start` stop and restart pebble on the
same ports (pebble forgets accounts and orders when it stops, as a real CA never does).

Needs the ``pebble`` Debian package (``pebble`` and ``pebble-challtestsrv``) and
``openssl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ("ChallTestSrvDNS", "Pebble", "PebbleError", "free_port")

HOST = "127.0.0.1"


class PebbleError(RuntimeError):
    """Pebble or its DNS server did not start, or the tools are not installed."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _free_udp_and_tcp_port() -> int:
    # The DNS server listens on the same port over UDP and TCP.
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind((HOST, port))
            except OSError:
                continue
            return port
    raise PebbleError("no loopback port is free for both UDP and TCP")


def _distinct(pick: Callable[[], int], taken: set[int]) -> int:
    """A port from ``pick`` not in ``taken`` (a probe's port is free again once it closes,
    so two picks in a row may return the same one)."""
    for _ in range(50):
        port = pick()
        if port not in taken:
            taken.add(port)
            return port
    raise PebbleError("no distinct loopback ports are free")


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, check=False, timeout=60)  # noqa: S603
    if done.returncode != 0:
        raise PebbleError(f"{command[0]} failed: {done.stderr.decode(errors='replace')[-400:]}")


class Pebble:
    """One pebble ACME server and its DNS server, private to the caller.

    ``http_port`` / ``tls_port``: where pebble's validator connects for HTTP-01 and
    TLS-ALPN-01 (on 127.0.0.1). ``validity``: seconds the issued certificates last
    (pebble's default is five years). ``always_valid``: skip challenge validation
    (``PEBBLE_VA_ALWAYS_VALID``), for tests that are not about challenges.
    """

    def __init__(
        self,
        *,
        http_port: int = 5002,
        tls_port: int = 5001,
        validity: int | None = None,
        always_valid: bool = False,
        start_timeout: float = 20.0,
    ) -> None:
        self.http_port = http_port
        self.tls_port = tls_port
        self.validity = validity
        self.always_valid = always_valid
        self.start_timeout = start_timeout
        taken: set[int] = set()
        self.port = _distinct(free_port, taken)
        self.management_port = _distinct(free_port, taken)
        self.dns_port = _distinct(_free_udp_and_tcp_port, taken)
        self.challtestsrv_port = _distinct(free_port, taken)
        self.directory = Path(tempfile.mkdtemp(prefix="pymodular-pebble-"))
        self._pebble: subprocess.Popen[bytes] | None = None
        self._dns: subprocess.Popen[bytes] | None = None
        self._prepared = False

    @staticmethod
    def missing() -> list[str]:
        """The programs that must be installed and are not."""
        needed = ("pebble", "pebble-challtestsrv", "openssl")
        return [name for name in needed if shutil.which(name) is None]

    # -- where clients connect -----------------------------------------------------------
    @property
    def directory_url(self) -> str:
        """The ACME directory URL."""
        return f"https://{HOST}:{self.port}/dir"

    @property
    def ca_bundle(self) -> Path:
        """PEM of the CA that signed pebble's HTTPS certificate (trust it for the directory)."""
        return self.directory / "ca.pem"

    @property
    def running(self) -> bool:
        """Whether pebble runs."""
        return self._pebble is not None and self._pebble.poll() is None

    @property
    def dns(self) -> ChallTestSrvDNS:
        """A DNS-01 provider that writes TXT records into this pebble's DNS server."""
        return ChallTestSrvDNS(f"http://{HOST}:{self.challtestsrv_port}")

    def roots(self) -> bytes:
        """PEM of the root that signs the certificates pebble issues (new at every start)."""
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        url = f"https://{HOST}:{self.management_port}/roots/0"
        with urllib.request.urlopen(url, context=context, timeout=5) as answer:
            return bytes(answer.read())

    # -- lifecycle -----------------------------------------------------------------------
    def _prepare(self) -> None:
        missing = self.missing()
        if missing:
            raise PebbleError(f"pebble needs {', '.join(missing)} (Debian: apt install pebble)")
        d = self.directory
        curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _run(
            [
                "openssl",
                "req",
                "-x509",
                *curve,
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "7",
                "-subj",
                "/CN=pymodular pebble test CA",
            ],
            d,
        )
        _run(
            [
                "openssl",
                "req",
                *curve,
                "-keyout",
                "key.pem",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            d,
        )
        (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "7",
                "-extfile",
                "san.ext",
            ],
            d,
        )
        settings: dict[str, object] = {
            "listenAddress": f"{HOST}:{self.port}",
            "managementListenAddress": f"{HOST}:{self.management_port}",
            "certificate": str(d / "cert.pem"),
            "privateKey": str(d / "key.pem"),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        if self.validity is not None:
            settings["certificateValidityPeriod"] = self.validity
        (d / "pebble.json").write_text(json.dumps({"pebble": settings}))
        self._prepared = True

    def start(self) -> Self:
        """Start the DNS server (once) and pebble; return when the directory answers."""
        if not self._prepared:
            self._prepare()
        if self._dns is None or self._dns.poll() is not None:
            self._dns = self._spawn(
                [
                    "pebble-challtestsrv",
                    "-dns01",
                    f"{HOST}:{self.dns_port}",
                    "-management",
                    f"{HOST}:{self.challtestsrv_port}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                    "-defaultIPv4",
                    HOST,
                    "-defaultIPv6",
                    "",
                ],
                "challtestsrv.log",
            )
            self._wait(lambda: self._tcp(self.challtestsrv_port), "pebble-challtestsrv")
        if not self.running:
            environment = {
                **os.environ,
                "PEBBLE_VA_NOSLEEP": "1",
                "PEBBLE_WFE_NONCEREJECT": "0",
                "PEBBLE_AUTHZREUSE": "0",
            }
            if self.always_valid:
                environment["PEBBLE_VA_ALWAYS_VALID"] = "1"
            self._pebble = self._spawn(
                [
                    "pebble",
                    "-config",
                    str(self.directory / "pebble.json"),
                    "-dnsserver",
                    f"{HOST}:{self.dns_port}",
                ],
                "pebble.log",
                environment,
            )
            self._wait(self._serves, "pebble")
        return self

    def _spawn(
        self, command: list[str], log: str, environment: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with (self.directory / log).open("ab") as output:
            return subprocess.Popen(  # noqa: S603 - fixed programs, our own arguments
                command,
                cwd=self.directory,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )

    @staticmethod
    def _tcp(port: int) -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False

    def _serves(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        try:
            with urllib.request.urlopen(self.directory_url, context=context, timeout=2) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except OSError:
            return False

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not ready():
            process = self._pebble if what == "pebble" else self._dns
            if process is not None and process.poll() is not None:
                raise PebbleError(f"{what} exited at start: {self.log(what)}")
            if time.monotonic() > deadline:
                raise PebbleError(f"{what} did not answer within {self.start_timeout} s")
            time.sleep(0.02)

    def log(self, what: str = "pebble") -> str:
        """The end of pebble's (or ``"pebble-challtestsrv"``'s) log."""
        name = "pebble.log" if what == "pebble" else "challtestsrv.log"
        path = self.directory / name
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop pebble (the DNS server keeps running); :meth:`start` starts it again."""
        self._terminate(self._pebble)
        self._pebble = None

    def close(self) -> None:
        """Stop both servers and remove their directory."""
        self._terminate(self._pebble)
        self._terminate(self._dns)
        self._pebble = self._dns = None
        shutil.rmtree(self.directory, ignore_errors=True)

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class ChallTestSrvDNS:
    """A DNS-01 provider for ``pebble-challtestsrv`` (its management API at ``url``).

    It serves the TXT records pebble looks up; use it to test DNS-01 end to end.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    async def set_txt(self, name: str, value: str) -> None:
        """Publish ``value`` as a TXT record of ``name``."""
        await self._post("/set-txt", {"host": _fqdn(name), "value": value})

    async def clear_txt(self, name: str, value: str) -> None:
        """Remove the TXT records of ``name``."""
        await self._post("/clear-txt", {"host": _fqdn(name)})

    async def _post(self, path: str, body: dict[str, str]) -> None:
        import asyncio

        def send() -> None:
            request = urllib.request.Request(  # noqa: S310 - the configured loopback URL
                self.url + path, data=json.dumps(body).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                answer.read()

        await asyncio.to_thread(send)

    def __repr__(self) -> str:
        return f"ChallTestSrvDNS({self.url!r})"


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."
