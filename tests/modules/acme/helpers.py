"""Helpers of the acme tests: a movable clock and TLS handshakes against the server."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl

from cryptography import x509


class MovableClock:
    """A clock the test moves; starts at the real time."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment


async def presented(port: int, server_name: str, roots: bytes | None = None) -> x509.Certificate:
    """The leaf a fresh TLS handshake for ``server_name`` presents (verified against
    ``roots`` when given)."""
    if roots is not None:
        context = ssl.create_default_context(cadata=roots.decode())
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=server_name
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return x509.load_der_x509_certificate(der)
