"""``EventLoggerModule``: every framework event to the console, files and syslog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.errors import ConfigError, error_text
from pymodular.events import Event
from pymodular.logmask import LogMasker
from pymodular.module import Dependency, Extra, Module
from pymodular.modules.eventlogger._format import (
    Formatter,
    bus_formatter,
    cloudevents_formatter,
    formatter,
)
from pymodular.modules.eventlogger._outputs import (
    BusOutput,
    CloudEventsOutput,
    FileOutput,
    Output,
    StreamOutput,
    SyslogOutput,
)
from pymodular.modules.eventlogger._writer import EventLogger
from pymodular.modules.eventlogger.config import (
    BusOutputConfig,
    CloudEventsOutputConfig,
    ConsoleOutputConfig,
    EventLoggerConfig,
    FileOutputConfig,
)
from pymodular.services import Service

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("EventLoggerModule",)


class EventLoggerModule(Module[EventLoggerConfig]):
    """The ``eventlogger`` module (section ``eventlogger``): writes the application's
    events as text or JSON lines.

    It observes every event from the moment it is initialised, and the ones emitted
    before (the event bus keeps the last 256 for replay): registration, configuration
    and the earlier modules' init are written too. Events wait in a bounded buffer
    (``buffer_size``; the oldest is dropped when full, and the count is reported in an
    ``eventlogger.event.dropped`` event) and are written in batches from a worker
    thread, so a slow disk never slows the lifecycle. Everything up to
    ``application.stopped`` is written before the outputs close. Event data is masked
    by field name like log records (:class:`~pymodular.logmask.LogMasker`).

    Provides ``"eventlogger"`` (:class:`EventLogger`: counters, ``flush``). Events:
    ``eventlogger.event.dropped``, ``eventlogger.output.error``,
    ``eventlogger.output.recovered``.
    """

    name = "eventlogger"
    bus = Dependency(name="eventbus", optional=True)  # for an eventbus output

    def __init__(self, *, masker: LogMasker | None = None, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self._masker = masker or LogMasker()
        self._logger: EventLogger | None = None

    @property
    def logger(self) -> EventLogger:
        """The event logger (after ``init``)."""
        if self._logger is None:
            raise AttributeError(f"module {self.name!r} has not been initialised yet")
        return self._logger

    def provides(self) -> Sequence[Service[Any]]:
        """The event logger."""
        return [
            Service(
                "eventlogger",
                factory=lambda: self.logger,
                interface=EventLogger,
                description="framework events written to console, files, syslog",
            )
        ]

    async def init(self, app: Application) -> None:
        """Open the outputs and start observing (with the events before this module)."""
        config = self.config
        formats: dict[str, Formatter] = {}
        outputs: list[tuple[Output, Formatter]] = []
        for index, output_config in enumerate(config.outputs):
            if isinstance(output_config, CloudEventsOutputConfig):
                outputs.append(self._cloudevents(index, output_config))
                continue
            if isinstance(output_config, BusOutputConfig):
                outputs.append(self._bus_output(index, output_config))
                continue
            kind = output_config.format or config.format
            if kind not in formats:
                formats[kind] = formatter(kind, self._masker)
            outputs.append((self._output(index, output_config), formats[kind]))
        self._logger = EventLogger(
            outputs,
            include=config.include,
            exclude=config.exclude,
            modules=config.modules,
            exclude_modules=config.exclude_modules,
            level=logging.getLevelNamesMapping()[config.level],
            buffer_size=config.buffer_size,
            batch_size=config.batch_size,
            emit=self.emit,
        )
        app.events.subscribe(self._logger, name=self.name, replay=True, direct=True)
        app.events.subscribe(self._final, "application.stopped", name=f"{self.name}:close")

    def _output(self, index: int, config: Any) -> Output:
        if isinstance(config, ConsoleOutputConfig):
            return StreamOutput(config.stream)
        if isinstance(config, FileOutputConfig):
            return FileOutput(
                config.path,
                max_bytes=config.max_bytes,
                max_age=config.max_age,
                backups=config.backups,
            )
        try:
            return SyslogOutput(
                config.address,
                protocol=config.protocol,
                facility=config.facility,
                tag=config.tag,
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"eventlogger output {index}: cannot reach syslog at {config.address!r}: "
                f"{error_text(exc)}",
                field=f"{self.name}.outputs.{index}",
            ) from exc

    def _cloudevents(self, index: int, config: CloudEventsOutputConfig) -> tuple[Output, Formatter]:
        field = f"{self.name}.outputs.{index}"
        for extra in (Extra("cloudevents"), Extra("httpclient", "httpx")):
            extra.require("the eventlogger's cloudevents output", field=field, module=self.name)
        output = CloudEventsOutput(
            config.url.reveal(),
            mode=config.mode,
            headers={name: value.reveal() for name, value in config.headers.items()},
            timeout=config.timeout,
            retries=config.retries,
            backoff=config.backoff,
        )
        return output, cloudevents_formatter(config.mode, config.source, self._masker)

    def _bus_output(self, index: int, config: BusOutputConfig) -> tuple[Output, Formatter]:
        if self.bus is None:
            raise ConfigError(
                f"eventlogger output {index} publishes on the event bus, but the application "
                "has no eventbus module",
                field=f"{self.name}.outputs.{index}",
            )
        loop = asyncio.get_running_loop()
        output = BusOutput(self.bus, loop, prefix=config.prefix, timeout=config.timeout)
        return output, bus_formatter(self._masker)

    async def start(self) -> None:
        """Start writing (the events buffered since ``init`` first)."""
        self.logger.start()

    async def stop(self) -> None:
        """Write what is buffered; events until ``application.stopped`` are still written."""
        await self.logger.flush(self.config.drain_timeout)

    async def _final(self, event: Event) -> None:
        if self._logger is not None:
            await self._logger.close(self.config.drain_timeout)

    def describe(self) -> dict[str, Any]:
        """Outputs and counters."""
        return self.logger.describe() if self._logger is not None else {}
