"""The event logger in an application: outputs, filters, start-up events, drain, secrets."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from pymodular import Module
from pymodular.errors import ConfigError
from pymodular.events import Event
from pymodular.modules.eventlogger import EventLogger, EventLoggerModule
from pymodular.secrets import Secret, forget_secret
from pymodular.testing import app_harness


class Chatty(Module[None]):
    name = "chatty"

    async def start(self) -> None:
        self.emit("chatty.said", words="hello", password="hunter2", email="ada@example.com")


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def file_config(path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "eventlogger": {
            "format": "json",
            "outputs": [{"type": "file", "path": str(path)}],
            **extra,
        }
    }


async def test_every_event_from_registration_to_stop_is_written(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    # the event logger is registered last: the earlier modules' events come by replay
    async with app_harness([Chatty(), EventLoggerModule()], config=file_config(path)):
        pass
    types = [line["type"] for line in read(path)]
    assert types[0] == "application.registering"
    assert "module.initialised" in types
    assert types.index("chatty.said") < types.index("application.stopping")
    assert types[-1] == "application.stopped"  # written before the outputs closed
    assert types.count("application.stopped") == 1


async def test_event_data_is_masked_by_field_name_and_secrets(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    secret = Secret("token-0f1e2d3c")
    try:

        class Leaky(Module[None]):
            name = "leaky"

            async def start(self) -> None:
                self.emit("leaky.call", url="https://api/?t=token-0f1e2d3c")

        config = file_config(path)
        async with app_harness([Chatty(), Leaky(), EventLoggerModule()], config=config):
            pass
    finally:
        forget_secret(secret)
    text = path.read_text()
    assert "hunter2" not in text
    assert "token-0f1e2d3c" not in text
    (said,) = [line for line in read(path) if line["type"] == "chatty.said"]
    assert said["data"] == {
        "words": "hello",
        "password": "[REDACTED]",
        "email": "ad*@example.com",
    }
    assert said["level"] == "INFO"
    assert said["module"] == "chatty"


async def test_filters_by_type_module_and_level(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    config = file_config(
        path,
        include=["module.*", "chatty.*"],
        exclude=["module.registering", "module.registered"],
        exclude_modules=["eventlogger"],
        level="INFO",
    )
    async with app_harness([Chatty(), EventLoggerModule()], config=config):
        pass
    lines = read(path)
    types = {line["type"] for line in lines}
    assert "chatty.said" in types
    assert "module.started" in types
    assert not {t for t in types if t.startswith(("application.", "config."))}
    assert "module.registering" not in types
    assert {line["module"] for line in lines} == {"chatty"}


async def test_text_lines_to_the_console(capfd: pytest.CaptureFixture[str]) -> None:
    config = {"eventlogger": {"include": ["chatty.*"]}}
    async with app_harness([Chatty(), EventLoggerModule()], config=config):
        pass
    err = capfd.readouterr().err
    (line,) = [line for line in err.splitlines() if "chatty.said" in line]
    assert " INFO chatty.said module=chatty phase=start " in line
    assert 'words="hello"' in line
    assert 'password="[REDACTED]"' in line


async def test_a_full_buffer_drops_the_oldest_and_reports_the_count_once() -> None:
    written: list[list[tuple[int, str]]] = []

    class Memory:
        name = "memory"

        def write(self, entries: list[tuple[int, str]]) -> None:
            written.append(list(entries))

        def close(self) -> None:
            pass

    emitted: list[tuple[str, dict[str, Any]]] = []
    logger = EventLogger(
        [(Memory(), lambda event: event.type)],  # type: ignore[list-item]
        buffer_size=3,
        emit=lambda kind, **data: emitted.append((kind, data)),
    )
    for i in range(10):
        logger(Event(f"burst.{i}"))
    logger(Event("eventlogger.event.dropped"))  # its own events never add reports
    assert await logger.flush(5)
    lines = [line for batch in written for _, line in batch]
    assert lines == ["burst.8", "burst.9", "eventlogger.event.dropped"]
    assert emitted == [
        (
            "eventlogger.event.dropped",
            {
                "dropped": 8,
                "total_dropped": 8,
                "reason": "buffer_full_oldest_dropped",
                "buffer_size": 3,
            },
        )
    ]
    assert logger.describe()["dropped"] == 8


async def test_a_failing_output_is_reported_once_the_others_go_on_and_it_recovers(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.jsonl"
    bad = tmp_path / "bad.jsonl"
    config = {
        "eventlogger": {
            "format": "json",
            "outputs": [{"type": "file", "path": str(bad)}, {"type": "file", "path": str(good)}],
        }
    }
    async with app_harness([Chatty(), EventLoggerModule()], config=config) as (app, events):
        logger = app.services.get(EventLogger)
        await logger.flush(5)
        bad.unlink()
        bad.mkdir()  # the next rotation or reopen fails; make the open file fail now:
        logger.outputs[0][0].close()
        app.module("chatty").emit("chatty.more")
        await logger.flush(5)
        app.module("chatty").emit("chatty.again")
        await logger.flush(5)
        error = await events.wait_for("eventlogger.output.error")
        bad.rmdir()  # the disk is back: the next batch reopens the file
        app.module("chatty").emit("chatty.back")
        await logger.flush(5)
        recovered = await events.wait_for("eventlogger.output.recovered")
        failed_writes = logger.describe()["failed_writes"]
    assert error.data["output"] == recovered.data["output"] == f"file:{bad}"
    assert len(events.of("eventlogger.output.error")) == 1
    assert {"chatty.more", "chatty.again"} <= {line["type"] for line in read(good)}
    assert read(bad)[0]["type"] == "chatty.back"  # the outage's own lines are counted lost
    assert failed_writes >= 2


async def first_datagram(receiver: socket.socket, output: dict[str, Any]) -> str:
    """Run an app whose event logger sends chatty's events to ``output``; the first line."""
    receiver.settimeout(5)
    config = {"eventlogger": {"include": ["chatty.*"], "outputs": [output]}}
    try:
        async with app_harness([Chatty(), EventLoggerModule()], config=config):
            pass
        return receiver.recv(65536).decode()
    finally:
        receiver.close()


async def test_syslog_lines_reach_a_udp_receiver() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    output = {"type": "syslog", "address": f"127.0.0.1:{port}", "tag": "shop"}
    datagram = await first_datagram(receiver, output)
    assert datagram.startswith("<14>shop: ")  # facility user (1) * 8 + info (6)
    assert "chatty.said module=chatty" in datagram


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"type": "file", "path": "/nonexistent-dir-4a7b/events.log"}, "does not exist"),
        ({"type": "file", "path": "/"}, "not a regular file"),
        ({"type": "syslog", "address": "/nonexistent-dir-4a7b/log"}, "cannot reach syslog"),
        ({"type": "carrier-pigeon"}, "carrier-pigeon"),
    ],
)
async def test_bad_outputs_are_refused_before_anything_starts(
    output: dict[str, Any], message: str
) -> None:
    config = {"eventlogger": {"outputs": [output]}}
    with pytest.raises(Exception, match=message) as raised:
        async with app_harness([EventLoggerModule()], config=config):
            pass
    assert isinstance(raised.value, ConfigError) or isinstance(raised.value.__cause__, ConfigError)


async def test_syslog_lines_reach_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "log.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    output = {"type": "syslog", "address": str(path), "facility": "local0"}
    datagram = await first_datagram(receiver, output)
    assert datagram.startswith("<134>pymodular: ")  # local0 (16) * 8 + info (6)
    assert 'password="[REDACTED]"' in datagram


async def test_events_emitted_from_a_worker_thread_are_written(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "events.jsonl"
    async with app_harness([Chatty(), EventLoggerModule()], config=file_config(path)) as (
        app,
        _events,
    ):
        chatty = app.module("chatty")
        await asyncio.to_thread(chatty.emit, "chatty.from_thread", n=1)
        logger = app.services.get(EventLogger)
        await logger.flush(5)
        written = {line["type"] for line in read(path)}
    assert "chatty.from_thread" in written


async def test_selected_events_are_published_on_the_event_bus() -> None:
    import asyncio

    from pymodular.modules.eventbus import EventBus, EventBusModule

    class Auditor(Module[None]):
        name = "auditor"

        def __init__(self) -> None:
            self.seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def start(self) -> None:
            bus = self.app.services.get(EventBus)
            await bus.subscribe("ops.events.>", self.seen.put)

    auditor = Auditor()
    config = {
        "eventlogger": {
            "include": ["chatty.*"],
            "outputs": [{"type": "eventbus", "prefix": "ops.events"}],
        }
    }
    modules = [EventBusModule(), auditor, Chatty(), EventLoggerModule()]
    async with app_harness(modules, config=config):
        said = await asyncio.wait_for(auditor.seen.get(), 5)
    assert said["type"] == "chatty.said"
    assert said["data"]["password"] == "[REDACTED]"
    assert said["module"] == "chatty"


async def test_an_eventbus_output_without_the_eventbus_module_is_refused() -> None:
    config = {"eventlogger": {"outputs": [{"type": "eventbus"}]}}
    with pytest.raises(Exception, match="has no eventbus module") as raised:
        async with app_harness([EventLoggerModule()], config=config):
            pass
    assert isinstance(raised.value, ConfigError) or isinstance(raised.value.__cause__, ConfigError)
