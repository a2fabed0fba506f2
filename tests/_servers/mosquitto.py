"""A private Mosquitto: persistence saved after every change.

Retained messages and queued messages of persistent sessions survive a ``stop``. Mosquitto
saves its persistence file from its main loop, after it has acknowledged the change: a
``kill`` survives everything acknowledged before the last save (:meth:`MosquittoServer.saved`
tells whether some bytes have reached the file), not necessarily the last few milliseconds.
"""

from __future__ import annotations

from typing import ClassVar

from tests._servers._base import PrivateServer, exchange

# MQTT 3.1.1 CONNECT, clean session, keep-alive 60 s, client id "ping".
_CONNECT = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04ping"
_DISCONNECT = b"\xe0\x00"


class MosquittoServer(PrivateServer):
    """``mosquitto`` with its own configuration, listener and persistence file."""

    kind = "mosquitto"
    marker = "mqtt"
    binaries: ClassVar[tuple[str, ...]] = ("mosquitto",)

    def prepare(self) -> None:
        (self.directory / "mosquitto.conf").write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.directory}/",
                    # Save after each change rather than every 30 minutes: a kill then
                    # loses nothing the broker acknowledged.
                    "autosave_on_changes true",
                    "autosave_interval 1",
                    "user root",
                    "log_dest stdout",
                    "",
                ]
            ),
            encoding="utf-8",
        )

    def command(self) -> list[str]:
        return ["mosquitto", "-c", str(self.directory / "mosquitto.conf")]

    def ping(self) -> bool:
        return exchange(self.port, _CONNECT + _DISCONNECT, _connack)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def saved(self, payload: bytes) -> bool:
        """Whether ``payload`` has reached the persistence file (a kill then keeps it)."""
        try:
            return payload in (self.directory / "mosquitto.db").read_bytes()
        except FileNotFoundError:
            return False


def _connack(received: bytes) -> bool | None:
    if len(received) < 4:
        return None
    return received[:4] == b"\x20\x02\x00\x00"
