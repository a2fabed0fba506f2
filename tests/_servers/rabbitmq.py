"""A private RabbitMQ node: its own node name, ports, Mnesia directory, logs and cookie.

Booting an Erlang node with the broker takes seconds (about 5 s on the 2-core machines
measured), most of it before the AMQP port opens. :func:`take_rabbitmq` keeps one spare
node booting in the background once a test has asked for one, so the next test gets a
node that is already up.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from typing import ClassVar

from tests._servers._base import PrivateServer, exchange, free_port

_SBIN = "/usr/lib/rabbitmq/bin/rabbitmq-server"
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


class RabbitMqServer(PrivateServer):
    """``rabbitmq-server`` as a node ``private-<port>@localhost``, user guest/guest."""

    kind = "rabbitmq"
    marker = "rabbitmq"
    binaries: ClassVar[tuple[str, ...]] = (_SBIN,)
    start_timeout = 60.0

    def __init__(self) -> None:
        super().__init__()
        self.dist_port = free_port()
        self.node = f"private-{self.port}@localhost"

    def prepare(self) -> None:
        (self.directory / "rabbitmq-env.conf").write_text("", encoding="utf-8")
        (self.directory / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = {self.host}:{self.port}\n"
            # guest may connect from 127.0.0.1 only by default; spelled out for clarity.
            "loopback_users.guest = true\n",
            encoding="utf-8",
        )

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        d = self.directory
        env.update(
            {
                "HOME": str(d),  # its own Erlang cookie
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": self.host,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
                "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
                "ERL_EPMD_ADDRESS": self.host,
                "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            }
        )
        return env

    def command(self) -> list[str]:
        # The wrapper script turns SIGTERM into the broker's graceful shutdown.
        return [_SBIN]

    def ping(self) -> bool:
        # The broker answers the protocol header with Connection.Start (a method frame,
        # type 1, on channel 0) once it accepts clients.
        return exchange(self.port, _AMQP_HEADER, _connection_start)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/"


def _connection_start(received: bytes) -> bool | None:
    if len(received) < 3:
        return None
    return received[:3] == b"\x01\x00\x00"


_spare: Future[RabbitMqServer] | None = None
_spare_lock = threading.Lock()


def _boot_spare() -> None:
    global _spare  # noqa: PLW0603 - one spare per test process
    future: Future[RabbitMqServer] = Future()
    _spare = future

    def boot() -> None:
        server = RabbitMqServer()
        try:
            future.set_result(server.start())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the spare
            server.close()
            future.set_exception(exc)

    threading.Thread(target=boot, name="rabbitmq-spare", daemon=True).start()


def take_rabbitmq(timeout: float | None = None) -> RabbitMqServer:
    """A started private RabbitMQ node: the spare booted for it, or a fresh one.

    Once the caller's node is up, the spare for the next call starts booting (not before:
    two nodes booting at once on two cores take longer than one after the other).
    """
    global _spare  # noqa: PLW0603 - one spare per test process
    with _spare_lock:
        spare, _spare = _spare, None
    server: RabbitMqServer | None = None
    if spare is not None:
        try:
            server = spare.result(timeout=RabbitMqServer.start_timeout)
        except Exception:  # noqa: BLE001, S110 - a failed spare: boot a fresh node below
            server = None
    if server is None:
        server = RabbitMqServer().start(timeout)
    with _spare_lock:
        if _spare is None:
            _boot_spare()
    return server


def settle_spare() -> None:
    """Wait until the spare node booting in the background is up (or failed), so that a
    timing-sensitive scenario does not share the CPU with an Erlang boot."""
    with _spare_lock:
        spare = _spare
    if spare is not None:
        spare.exception(timeout=RabbitMqServer.start_timeout)  # waits; keeps the node
