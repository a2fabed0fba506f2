"""Configuration of the ``eventlogger`` section.

::

    eventlogger:
      format: json
      include: ["module.*", "application.*", "eventbus.*"]
      exclude_modules: [metrics]
      outputs:
        - {type: console}
        - {type: file, path: /var/log/app/events.jsonl, max_bytes: 10485760, backups: 5}
        - {type: syslog, address: /dev/log}
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = (
    "BusOutputConfig",
    "CloudEventsOutputConfig",
    "ConsoleOutputConfig",
    "EventLoggerConfig",
    "FileOutputConfig",
    "SyslogOutputConfig",
)

Format = Literal["text", "json"]
Level = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ConsoleOutputConfig(ConfigModel):
    """Events to the process's standard error (or output)."""

    type: Literal["console"] = field("console", description="Output kind")
    stream: Literal["stderr", "stdout"] = field("stderr", description="Which stream")
    format: Format | None = field(None, description="This output's format (default: format)")


class FileOutputConfig(ConfigModel):
    """Events appended to a file that rotates by size and by age."""

    type: Literal["file"] = field("file", description="Output kind")
    path: Path = field(description="The file (its directory must exist)")
    max_bytes: int = field(
        10 * 1024 * 1024, description="Rotate once the file reaches this size (0: never)", ge=0
    )
    max_age: float | None = field(
        None, description="Rotate once the file is this many seconds old (None: never)", gt=0
    )
    backups: int = field(5, description="Rotated files kept (events.jsonl.1 is the newest)", ge=0)
    format: Format | None = field(None, description="This output's format (default: format)")

    @model_validator(mode="after")
    def _directory_exists(self) -> Self:
        parent = self.path.expanduser().parent
        if not parent.is_dir():
            raise ValueError(f"the directory of {str(self.path)!r} does not exist")
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"{str(self.path)!r} exists and is not a regular file")
        return self


class SyslogOutputConfig(ConfigModel):
    """Events sent to syslog (RFC 3164 lines, as the stdlib handler writes them)."""

    type: Literal["syslog"] = field("syslog", description="Output kind")
    address: str = field("/dev/log", description="A unix socket path, or host:port for the network")
    protocol: Literal["udp", "tcp"] = field("udp", description="Network protocol (host:port)")
    facility: str = field("user", description="Syslog facility name")
    tag: str = field("pymodular", description="The program name in each line", max_length=48)
    format: Format | None = field(None, description="This output's format (default: format)")


class CloudEventsOutputConfig(ConfigModel):
    """Events POSTed as CloudEvents to an HTTP endpoint (extras cloudevents, httpclient)."""

    type: Literal["cloudevents"] = field("cloudevents", description="Output kind")
    url: Secret[str] = field(description="The endpoint (a token in it stays masked)")
    mode: Literal["structured", "binary", "batch"] = field(
        "batch",
        description="structured: one application/cloudevents+json request per event; "
        "binary: ce-* headers and the data as body; batch: one "
        "application/cloudevents-batch+json request per batch",
    )
    headers: dict[str, Secret[str]] = field(
        default_factory=dict, description="Headers of every request (tokens: secrets)"
    )
    source: str | None = field(None, description="CloudEvents source (default /pymodular/...)")
    timeout: float = field(5.0, description="Seconds per request", gt=0)
    retries: int = field(3, description="Retries of a refused request (5xx, 429, errors)", ge=0)
    backoff: float = field(0.5, description="Seconds before the first retry (doubling)", ge=0)


class BusOutputConfig(ConfigModel):
    """Events published on the application's event bus (the eventbus module)."""

    type: Literal["eventbus"] = field("eventbus", description="Output kind")
    prefix: str = field(
        "pymodular.events",
        description="Topic prefix: event module.started goes to <prefix>.module.started",
        pattern=r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$",
    )
    timeout: float = field(5.0, description="Seconds one publish may take", gt=0)


Output = Annotated[
    ConsoleOutputConfig
    | FileOutputConfig
    | SyslogOutputConfig
    | CloudEventsOutputConfig
    | BusOutputConfig,
    Field(discriminator="type"),
]


class EventLoggerConfig(ConfigModel):
    """The ``eventlogger`` section."""

    format: Format = field("text", description="text (one readable line) or json (one object)")
    level: Level = field("INFO", description="Least level written (config.* events are DEBUG)")
    outputs: list[Output] = field(
        default_factory=lambda: [ConsoleOutputConfig()], description="Where events go"
    )
    include: list[str] = field(
        default_factory=lambda: ["*"], description="Event type patterns written ('module.*')"
    )
    exclude: list[str] = field(default_factory=list, description="Event type patterns skipped")
    modules: list[str] = field(
        default_factory=list, description="Only events of these modules (empty: every one)"
    )
    exclude_modules: list[str] = field(
        default_factory=list, description="Skip events of these modules"
    )
    buffer_size: int = field(
        10_000,
        description="Events waiting to be written at most; when full the oldest is dropped "
        "(counted in an eventlogger.event.dropped event)",
        ge=1,
    )
    batch_size: int = field(1000, description="Events written per batch at most", ge=1)
    drain_timeout: float = field(
        5.0, description="Seconds the final flush may take when the application stops", gt=0
    )

    @model_validator(mode="after")
    def _patterns(self) -> Self:
        for pattern in (*self.include, *self.exclude):
            if not pattern or len(pattern) > 200:
                raise ValueError(f"event type pattern {pattern!r} must have 1-200 characters")
        return self
