"""What the showcase's logs mask, and whether it traces.

**Logs.** Every record goes through the core's log masker (``pymodular.logmask``): field
names such as ``password``, ``token``, ``*_key``, ``dsn`` are redacted, card numbers and
e-mail addresses in messages are masked, and any value the configuration holds as a
secret (the JWT signing key, a database password) shows as the mask wherever it turns
up. The ``logs`` section adds field rules to those defaults (``config.yaml`` redacts a
task's ``notes``: free text a tenant writes; SIGHUP reloads them). The tasks module logs
one line per change (``tasks.log_changes``), whose title goes through the masker.

**Traces.** Off unless asked for, so an idle laptop demo and the benchmark pay nothing:
``OTEL_EXPORTER_OTLP_ENDPOINT`` (the collector's base URL, as every OpenTelemetry SDK
reads it) or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the full ``/v1/traces`` URL) sends
spans over OTLP/HTTP; ``SHOWCASE_TRACING=console`` prints them, ``memory`` keeps them
for ``Tracing.finished_spans()``. Either way the tracing module is added and
``config.tracing.yaml`` applied: a server span per request (continuing a caller's
``traceparent``), a span per SQL statement, producer and consumer spans around each
event through the outbox, a span per digest run, and trace ids in the log records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from pymodular import Module
from pymodular.config import ConfigModel, field
from pymodular.logmask import DEFAULT_FIELDS, LogMasker, Strategy
from pymodular.logs import JsonFormatter

__all__ = ("LogsConfig", "LogsModule", "tracing_settings")

TRACING_EXPORTERS = ("otlp", "console", "memory")


class LogsConfig(ConfigModel):
    """The ``logs`` section."""

    format: Literal["text", "json"] | None = field(
        None,
        description="text or json lines on stderr (default: what started the process chose, "
        "text for make run, --log-format for pymodular run)",
    )
    fields: dict[str, Strategy] = field(
        default_factory=dict,
        description="Field rules added to the masker's defaults: name -> redact, partial, "
        "hash or none",
        dynamic=True,
    )


class LogsModule(Module[LogsConfig]):
    """Puts a masker with the configured rules on the process's log handlers."""

    name = "logs"

    async def init(self, app: Any) -> None:
        self.masker = self._install()

    async def reload(self, diff: Any) -> None:
        self.masker = self._install()

    def _install(self) -> LogMasker:
        """Replace the masker of every root handler (``app.run`` puts the default one)."""
        masker = LogMasker(fields={**DEFAULT_FIELDS, **self.config.fields})
        for handler in logging.getLogger().handlers:
            if self.config.format == "json" and not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(JsonFormatter())
            for old in [f for f in handler.filters if isinstance(f, LogMasker)]:
                handler.removeFilter(old)
            handler.addFilter(masker)
        return masker


def tracing_settings(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``tracing`` settings the environment asks for, or ``None``: no tracing."""
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if traces or base:
        endpoint = traces or f"{base.rstrip('/')}/v1/traces"  # type: ignore[union-attr]
        return {"exporter": "otlp", "otlp": {"endpoint": endpoint}}
    chosen = env.get("SHOWCASE_TRACING", "")
    if not chosen or chosen == "none":
        return None
    if chosen not in TRACING_EXPORTERS:
        raise ValueError(
            f"SHOWCASE_TRACING={chosen!r}: expected one of {', '.join(TRACING_EXPORTERS)} "
            "or none (or set OTEL_EXPORTER_OTLP_ENDPOINT)"
        )
    return {"exporter": chosen}
