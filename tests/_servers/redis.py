"""A private Redis: append-only file written before each reply, so a kill loses nothing."""

from __future__ import annotations

from typing import ClassVar

from tests._servers._base import PrivateServer, exchange


class RedisServer(PrivateServer):
    """``redis-server`` with ``appendonly yes`` and ``appendfsync always`` in its directory."""

    kind = "redis"
    marker = "redis"
    binaries: ClassVar[tuple[str, ...]] = ("redis-server",)

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "no",
        ]  # fmt: skip

    def ping(self) -> bool:
        # -LOADING while the append-only file is replayed; +PONG once it serves.
        return exchange(self.port, b"PING\r\n", _pong)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def _pong(received: bytes) -> bool | None:
    if b"\r\n" not in received:
        return None
    return received.startswith(b"+PONG")
