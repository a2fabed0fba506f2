"""ACME certificates: the handshake path by number of domains, and one order end to end.

- Certificate lookup on the TLS handshake path (goal, issue 18: constant time in the
  number of domains): ``AcmeCertificates.certificate(name)`` with 10 and with 2,000
  domains (a wildcard-covered name and an exact one, in turn), beside a provider that
  scans its domains in order (what a list of certificates with glob names does); the
  floor is a plain ``dict.get``. Met when the 2,000-domain median is within 1.5x of the
  10-domain one.
- A full TLS 1.3 handshake in memory (client and server ``MemoryBIO``) through the
  httpserver's ``ServerTLS`` SNI callback and this provider, at 10 and at 2,000 domains.
  Met when the two are within 1.2x (the handshake's cryptography dominates).
- One certificate ordered from a private pebble (account known, challenge validation
  skipped with ``PEBBLE_VA_ALWAYS_VALID`` so the row measures the client, not pebble's
  validator): the module's order flow beside the raw ``acme`` client doing the same steps
  with its own ``poll_and_finalize``, in the same run. Met when ours is not slower.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import shutil
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, Stats, interleaved, measure_once

SMALL, LARGE = 10, 2000


def _provider(count: int, directory: Path, bundle: Any) -> Any:
    from pymodular.modules.acme import AcmeCertificates

    provider = AcmeCertificates(directory)
    provider.install("*.wild.example", bundle)
    for index in range(count - 1):
        provider.install(f"site{index}.example", bundle)
    return provider


class ScanningProvider:
    """The peer: certificates in a list, matched by glob in order (linear in domains)."""

    def __init__(self, contexts: list[tuple[str, ssl.SSLContext]]) -> None:
        self.contexts = contexts

    def certificate(self, server_name: str | None) -> ssl.SSLContext | None:
        if server_name is None:
            return None
        for pattern, context in self.contexts:
            if fnmatch.fnmatchcase(server_name, pattern):
                return context
        return None


def _handshake(server_context: ssl.SSLContext, client_context: ssl.SSLContext, name: str) -> None:
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    client = client_context.wrap_bio(client_in, client_out, server_hostname=name)
    done = {"client": False, "server": False}
    while not all(done.values()):
        for side, tls, out, peer_in in (
            ("client", client, client_out, server_in),
            ("server", server, server_out, client_in),
        ):
            if not done[side]:
                try:
                    tls.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
            data = out.read()
            if data:
                peer_in.write(data)


def _lookup_rows(directory: Path) -> list[Row]:
    from pymodular.modules.acme._certs import self_signed
    from pymodular.modules.httpserver._tls import ServerTLS

    bundle = self_signed(["bench.example"], dt.datetime.now(dt.UTC))
    small = _provider(SMALL, directory / "small", bundle)
    large = _provider(LARGE, directory / "large", bundle)
    context = large.certificate("site0.example")
    scan = ScanningProvider(
        [(f"site{i}.example", context) for i in range(LARGE - 1)] + [("*.wild.example", context)]
    )
    names = ["api.wild.example", f"site{SMALL - 2}.example"] * 50
    table = {f"site{i}.example": context for i in range(LARGE)}

    def each(lookup: Any) -> Any:
        def loop() -> None:
            for name in names:
                lookup(name)

        return loop

    lookups = interleaved(
        {
            "small": each(small.certificate),
            "large": each(large.certificate),
            "scan": each(scan.certificate),
            "dict": each(table.get),
        },
        repeat=41,
        per=len(names),
    )
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    fronts = {"small": ServerTLS(small), "large": ServerTLS(large)}
    spread = [f"site{i % (SMALL - 1)}.example" for i in range(20)]

    def handshakes(front: Any) -> Any:
        def loop() -> None:
            for name in spread:
                _handshake(front.context, client, name)

        return loop

    shakes = interleaved(
        {"small": handshakes(fronts["small"]), "large": handshakes(fronts["large"])},
        repeat=15,
        per=len(spread),
    )
    ratio = lookups["large"].median / lookups["small"].median
    shake_ratio = shakes["large"].median / shakes["small"].median
    return [
        Row(
            f"acme: certificate lookup on the handshake path, {LARGE} domains",
            lookups["large"],
            f"within 1.5x of {SMALL} domains",
            ratio <= 1.5,
            peers={f"ours, {SMALL} domains": lookups["small"], "glob scan": lookups["scan"]},
            floor=("dict.get", lookups["dict"]),
            note=f"x{ratio:.2f} of {SMALL} domains",
        ),
        Row(
            f"acme: TLS 1.3 handshake by SNI through the provider, {LARGE} domains",
            shakes["large"],
            f"within 1.2x of {SMALL} domains",
            shake_ratio <= 1.2,
            peers={f"ours, {SMALL} domains": shakes["small"]},
            note=f"x{shake_ratio:.2f} of {SMALL} domains",
        ),
    ]


def _order_row() -> Row:
    from acme import client as acme_client
    from acme import messages

    from pymodular.modules.acme._certs import generate_key, make_csr
    from pymodular.modules.acme._challenges import Http01Solver
    from pymodular.modules.acme._client import AcmeSession
    from pymodular.modules.acme._order import obtain
    from pymodular.modules.acme.pebble import Pebble

    rounds = 9
    with Pebble(always_valid=True) as pebble:
        ours_session = AcmeSession(
            pebble.directory_url, generate_key("ec256"), ca_bundle=str(pebble.ca_bundle)
        )
        ours_session.open()
        raw_session = AcmeSession(
            pebble.directory_url, generate_key("ec256"), ca_bundle=str(pebble.ca_bundle)
        )
        raw_session.open()
        raw = raw_session.client
        assert raw is not None
        solver = Http01Solver()

        async def ours_once(index: int) -> None:
            await obtain(
                ours_session,
                [f"ours{index}.example.test"],
                solver,
                key_type="ec256",
                timeout=60,
                emit=lambda *_, **__: None,
            )

        def raw_once(index: int) -> None:
            key = generate_key("ec256")
            order = raw.new_order(make_csr(key, [f"raw{index}.example.test"]))
            for authorization in order.authorizations:
                challenge = next(
                    c for c in authorization.body.challenges if c.chall.typ == "http-01"
                )
                raw.answer_challenge(challenge, challenge.response(raw.net.key))
            deadline = dt.datetime.now() + dt.timedelta(seconds=60)
            finished = raw.poll_and_finalize(order, deadline)
            assert isinstance(finished, messages.OrderResource)
            assert finished.fullchain_pem

        ours: list[float] = []
        peer: list[float] = []
        for index in range(rounds):
            began = time.perf_counter()
            asyncio.run(ours_once(index))
            ours.append(time.perf_counter() - began)
            began = time.perf_counter()
            raw_once(index)
            peer.append(time.perf_counter() - began)
        assert acme_client  # the peer is the library's own client
    stats, peer_stats = measure_once(ours), measure_once(peer)
    return Row(
        "acme: one certificate ordered from pebble (new key, order, challenge, finalize, download)",
        stats,
        "not slower than the raw acme client",
        stats.median <= peer_stats.median,
        peers={"raw acme client (poll_and_finalize)": peer_stats},
        note="validation skipped by pebble (PEBBLE_VA_ALWAYS_VALID): the client is measured; ",
    )


def run() -> list[Row]:
    from pymodular.modules.acme.pebble import Pebble

    shm = Path("/dev/shm")
    directory = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    try:
        rows = _lookup_rows(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if not Pebble.missing():
        rows.append(_order_row())
    return rows


__all__ = ("Stats", "run")
