"""A loopback HTTP receiver for exporter tests: records each POST, answers as told."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """POSTs to ``url`` are recorded as ``(lower-cased headers, body)`` when accepted.

    ``answers`` queues statuses to answer first (refusals are not recorded); after them
    every request gets ``status`` and ``reply`` (a body, with ``reply_type``).

    A request is recorded before its answer is sent, so once a client has its answer the
    request is in ``requests``. ``received`` is set only after the answer is written: a
    client may read the answer (and a test go on) before that — wait on it, never test
    it with ``is_set()`` after the client's call returned.
    """

    def __init__(
        self,
        path: str = "/",
        *,
        status: int = 202,
        reply: bytes = b"",
        reply_type: str = "application/json",
        port: int = 0,
        keep_alive: bool = False,
    ) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.retry_after: str | None = None  # sent with every refusal when set
        self.hold: threading.Event | None = None  # when set, answers wait for it (a slow peer)
        self.arrived = threading.Event()  # a request came in (held or not)
        self.received = threading.Event()
        self.connections: list[socket.socket] = []  # closed when it stops serving
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps a client's connection open between requests, as a collector does
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                receiver.connections.append(self.connection)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                answer = receiver.answers.pop(0) if receiver.answers else status
                if answer < 300:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append((headers, body))
                try:
                    self.send_response(answer)
                    if answer >= 300 and receiver.retry_after is not None:
                        self.send_header("retry-after", receiver.retry_after)
                    self.send_header("content-type", reply_type)
                    self.send_header("content-length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a test of a slow peer)
                receiver.received.set()

            def log_message(self, message_format: str, *args: Any) -> None:
                pass  # the test reads what it needs from ``requests``

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, decode: Callable[[dict[str, str], bytes], Any]) -> list[Any]:
        """Each accepted body, decoded."""
        return [decode(headers, body) for headers, body in self.requests]


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` in a thread for the block; at its end the receiver goes away as a
    stopped server does: no more connections accepted, the open ones closed."""
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        for connection in receiver.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        thread.join(5)


@contextmanager
def otlp_receiving(path: str, answer: bytes) -> Iterator[Receiver]:
    """An OTLP/HTTP receiver on ``path`` answering 200 with the protobuf ``answer``."""
    receiver = Receiver(path, status=200, reply=answer, reply_type="application/x-protobuf")
    with receiving(receiver) as running:
        yield running
