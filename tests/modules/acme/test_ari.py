"""ACME Renewal Information: the CA's suggested window wins over the renewal rule.

Debian's pebble (2.4) does not offer ARI. The test puts a small HTTPS server in front of
its directory that adds ``renewalInfo`` (draft-ietf-acme-ari) and answers it with a
window; everything else (accounts, orders, certificates) is pebble's own.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pymodular.modules.acme import AcmeModule
from pymodular.modules.acme.pebble import Pebble, free_port
from pymodular.testing import EventRecorder
from tests._until import until
from tests.modules.acme.conftest import PebbleFactory, acme_app, acme_section

WINDOW = (dt.timedelta(days=10), dt.timedelta(days=11))


class AriFront:
    """Serves pebble's directory plus ``renewalInfo``; counts the directory and ARI
    requests; answers the next ``failing`` ARI requests with a 503."""

    def __init__(self, pebble: Pebble) -> None:
        self.pebble = pebble
        self.asked: list[str] = []
        self.directories = 0
        self.failing = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/dir":
                    front.directories += 1
                    trusted = ssl.create_default_context(cafile=str(front.pebble.ca_bundle))
                    with urllib.request.urlopen(front.pebble.directory_url, context=trusted) as r:
                        directory = json.loads(r.read())
                    directory["renewalInfo"] = f"{front.url}/ari"
                    self._json(directory)
                elif self.path.startswith("/ari/"):
                    front.asked.append(self.path.removeprefix("/ari/"))
                    if front.failing:
                        front.failing -= 1
                        self.send_error(503)
                        return
                    now = dt.datetime.now(dt.UTC)
                    start, end = (now + WINDOW[0]), (now + WINDOW[1])
                    self._json(
                        {
                            "suggestedWindow": {
                                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            }
                        }
                    )
                else:
                    self.send_error(404)

            def _json(self, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pebble.directory / "cert.pem", pebble.directory / "key.pem")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ari_front(pebble: PebbleFactory) -> Iterator[tuple[Pebble, AriFront, int]]:
    port = free_port()
    server = pebble(http_port=port, validity=90 * 86400)
    front = AriFront(server)
    yield server, front, port
    front.close()


async def test_the_cas_suggested_window_sets_the_renewal_moment(
    ari_front: tuple[Pebble, AriFront, int], tmp_path: Path
) -> None:
    server, front, port = ari_front
    acme = {**acme_section(server, tmp_path), "directory": f"{front.url}/dir"}
    async with acme_app(acme, port) as (_, events, _m, _h):
        issued = await events.wait_for("acme.certificate.issued", timeout=30)
    renew_at = dt.datetime.fromisoformat(issued.data["renew_at"])
    now = dt.datetime.now(dt.UTC)
    assert now + WINDOW[0] - dt.timedelta(minutes=5) <= renew_at <= now + WINDOW[1]
    assert len(front.asked) == 1  # one ARI request, for the new certificate


async def test_without_ari_the_rule_applies(
    ari_front: tuple[Pebble, AriFront, int], tmp_path: Path
) -> None:
    server, front, port = ari_front
    acme = {**acme_section(server, tmp_path), "directory": f"{front.url}/dir", "ari": False}
    async with acme_app(acme, port, module=AcmeModule()) as (_, events, _m, _h):
        issued = await events.wait_for("acme.certificate.issued", timeout=30)
    renew_at = dt.datetime.fromisoformat(issued.data["renew_at"])
    assert renew_at > dt.datetime.now(dt.UTC) + dt.timedelta(days=55)  # 90-day rule: ~60 days
    assert front.asked == []


@asynccontextmanager
async def loaded_with_ari(
    ari_front: tuple[Pebble, AriFront, int], tmp_path: Path
) -> AsyncIterator[tuple[EventRecorder, AcmeModule]]:
    """A certificate issued without ARI, then loaded at the start of an app that follows
    ARI (running until the block ends)."""
    server, front, port = ari_front
    rule = {**acme_section(server, tmp_path), "directory": f"{front.url}/dir", "ari": False}
    async with acme_app(rule, port) as (_, events, _m, _h):
        await events.wait_for("acme.certificate.issued", timeout=30)
    module = AcmeModule()
    async with acme_app({**rule, "ari": True}, port, module=module) as (_, events, _m, _h):
        await events.wait_for("acme.certificate.loaded")
        yield events, module


async def test_a_certificate_loaded_at_start_follows_the_cas_window_too(
    ari_front: tuple[Pebble, AriFront, int], tmp_path: Path
) -> None:
    front = ari_front[1]
    async with loaded_with_ari(ari_front, tmp_path) as (events, module):
        state = module.renewer.states["www.example.test"]
        now = dt.datetime.now(dt.UTC)
        await until(lambda: bool(front.asked), timeout=10)  # the loop's first pass asks
        await until(lambda: state.due is not None and state.due <= now + WINDOW[1], timeout=10)
        assert state.due is not None
        assert now + WINDOW[0] - dt.timedelta(minutes=5) <= state.due <= now + WINDOW[1]
        assert "acme.account.registered" not in events.types()  # ARI needs no account


async def test_renewal_checks_reuse_one_directory_and_fetch_it_again_after_a_failure(
    ari_front: tuple[Pebble, AriFront, int], tmp_path: Path
) -> None:
    front = ari_front[1]
    async with loaded_with_ari(ari_front, tmp_path) as (events, module):
        await until(lambda: bool(front.asked), timeout=10)  # the loop's first check
        fetched = front.directories
        for _ in range(3):
            await module.renewer.ask_ari()
        assert (len(front.asked), front.directories) == (4, fetched)  # no account either
        front.failing = 1
        await module.renewer.ask_ari()  # fails: the rule stays, the session is dropped
        assert (len(front.asked), front.directories) == (5, fetched)
        await module.renewer.ask_ari()
        assert (len(front.asked), front.directories) == (6, fetched + 1)
        assert "acme.account.registered" not in events.types()


async def test_renewal_checks_read_through_the_accounts_session(
    ari_front: tuple[Pebble, AriFront, int], tmp_path: Path
) -> None:
    server, front, port = ari_front
    acme = {**acme_section(server, tmp_path), "directory": f"{front.url}/dir"}
    module = AcmeModule()
    async with acme_app(acme, port, module=module) as (_, events, _m, _h):
        await events.wait_for("acme.certificate.issued", timeout=30)
        fetched, asked = front.directories, len(front.asked)
        await module.renewer.ask_ari()
        await module.renewer.ask_ari()
        assert (len(front.asked), front.directories) == (asked + 2, fetched)
