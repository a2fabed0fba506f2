"""A private NATS server with JetStream and a store directory that survives restarts."""

from __future__ import annotations

from typing import ClassVar

from tests._servers._base import PrivateServer, exchange

# Ask the JetStream API for account information: it answers only once JetStream serves
# (the client port opens first). ``no_responders`` turns "nobody answers yet" into an
# immediate 503 instead of a timeout.
_JS_INFO = (
    b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
    b"SUB _ping.reply 1\r\n"
    b"PUB $JS.API.INFO _ping.reply 0\r\n\r\n"
    b"PING\r\n"
)


class NatsServer(PrivateServer):
    """``nats-server -js`` on a private port, store in ``<directory>/jetstream``."""

    kind = "nats"
    marker = "nats"
    binaries: ClassVar[tuple[str, ...]] = ("nats-server",)

    @property
    def store_dir(self) -> str:
        """The JetStream store directory (kept across stop, kill and start)."""
        return str(self.directory / "jetstream")

    def command(self) -> list[str]:
        return [
            "nats-server",
            "-a", self.host,
            "-p", str(self.port),
            "-js",
            "-sd", self.store_dir,
            "--server_name", f"private-{self.port}",
        ]  # fmt: skip

    def ping(self) -> bool:
        return exchange(self.port, _JS_INFO, _jetstream_answered)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"


def _jetstream_answered(received: bytes) -> bool | None:
    if b"account_info_response" in received:
        return True
    if b"503" in received or b"-ERR" in received:
        return False
    return None
