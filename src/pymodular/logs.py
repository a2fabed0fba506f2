"""Logging as a service, correlated with events and scrubbed of secrets (FR-020, FR-047, FR-049).

Modules receive ``self.log`` (a child of the application's logger) and can also ask
for the ``"logger"`` service or the :class:`Logger` protocol. Any object with the usual
``debug/info/warning/error/exception`` methods can replace the stdlib logger.

:func:`install_record_context` makes every log record in the process carry
``correlation_id``, ``tenant``, ``component``, ``trace_id`` and ``span_id`` attributes,
and masks registered secret values in the rendered message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from pymodular import secrets
from pymodular._context import correlation_id, current_module, current_tenant, current_trace

__all__ = ("JsonFormatter", "Logger", "configure_logging", "install_record_context")


@runtime_checkable
class Logger(Protocol):
    """What pymodular needs from a logger: the stdlib ``logging.Logger`` satisfies it."""

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def info(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...


_installed = False


def install_record_context() -> None:
    """Wrap the log record factory once per process (idempotent)."""
    global _installed  # noqa: PLW0603 - the record factory is process-wide by nature
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.correlation_id = correlation_id.get() or "-"
        record.tenant = current_tenant.get() or "-"
        module = current_module.get()
        record.component = module[0] if module else "-"
        trace = current_trace.get()
        record.trace_id, record.span_id = trace if trace is not None else ("-", "-")
        if secrets._ordered:
            _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    clean = secrets.redact(message)
    if clean != message:
        record.msg = clean
        record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        cleaned = secrets.redact(text)
        if cleaned != text:
            record.exc_text = cleaned


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the correlation fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", "-"),
            "tenant": getattr(record, "tenant", "-"),
            "module": getattr(record, "component", "-"),
        }
        trace_id = getattr(record, "trace_id", "-")
        if trace_id != "-":
            data["trace_id"] = trace_id
            data["span_id"] = getattr(record, "span_id", "-")
        if record.exc_info:
            data["exception"] = record.exc_text or secrets.redact(
                self.formatException(record.exc_info)
            )
        return json.dumps(data, default=str)


TEXT_FORMAT = (
    "%(asctime)s %(levelname)-7s %(name)s [%(component)s %(correlation_id).8s] %(message)s"
)


def configure_logging(level: int | str = logging.INFO, *, json_lines: bool = False) -> None:
    """Give the root logger one stderr handler with correlation fields (for ``app.run``).

    Leaves logging alone when the root logger already has handlers.
    """
    install_record_context()
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
