"""How an event becomes a line: its level, and text or JSON (pure functions)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from pymodular.events import Event
from pymodular.logmask import LogMasker

__all__ = ("Formatter", "formatter", "level_of")

_ERROR_ENDINGS = (".error", ".failed", ".failure", ".escalated")
_WARNING_ENDINGS = (".backpressure", ".dropped", ".down", ".exceeded", ".retrying", ".full")


@lru_cache(maxsize=4096)  # event types are few
def level_name(event_type: str) -> str:
    """The level name of an event type (``INFO`` ...)."""
    return logging.getLevelName(level_of(event_type))


@lru_cache(maxsize=4096)
def level_of(event_type: str) -> int:
    """The logging level of an event type: errors, warnings, configuration details, info."""
    if event_type.endswith(_ERROR_ENDINGS):
        return logging.ERROR
    if event_type.endswith(_WARNING_ENDINGS):
        return logging.WARNING
    if event_type.startswith("config.") and not event_type.startswith("config.reload"):
        return logging.DEBUG
    return logging.INFO


Formatter = Callable[[Event], str]
_PLAIN = frozenset({int, float, bool, type(None)})


def _dumps() -> Callable[[Any], str]:
    try:
        import orjson
    except ImportError:

        def fallback(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else str(value)

        return lambda value: json.dumps(value, default=fallback, separators=(",", ":"))

    def dumps(value: Any) -> str:
        return orjson.dumps(value, default=str).decode()

    return dumps


def formatter(kind: str, masker: LogMasker) -> Formatter:
    """A function turning an event into one line of ``kind`` (``text`` or ``json``),
    its data masked by field name (the event already redacted registered secrets)."""
    dumps = _dumps()

    strategy_for = masker.strategy_for
    mask_field = masker.mask_field

    def data_of(event: Event) -> dict[str, Any]:
        # a number under a field name no rule names is what mask_field would return
        return {
            k: v if type(v) in _PLAIN and strategy_for(k) is None else mask_field(k, v)
            for k, v in event.data.items()
        }

    if kind == "json":

        def as_json(event: Event) -> str:
            # Event.as_dict() without its isoformat: orjson writes datetimes natively (RFC 3339)
            return dumps(
                {
                    "id": event.id,
                    "type": event.type,
                    "source": event.source,
                    "module": event.module,
                    "phase": event.phase,
                    "data": data_of(event) if event.data else {},
                    "correlation_id": event.correlation_id,
                    "tenant": event.tenant,
                    "timestamp": event.timestamp,
                    "level": level_name(event.type),
                }
            )

        return as_json

    def as_text(event: Event) -> str:
        parts = [
            event.timestamp.isoformat(timespec="milliseconds"),
            level_name(event.type),
            event.type,
        ]
        if event.module:
            parts.append(f"module={event.module}")
        if event.phase:
            parts.append(f"phase={event.phase}")
        if event.tenant:
            parts.append(f"tenant={event.tenant}")
        if event.correlation_id:
            parts.append(f"correlation={event.correlation_id[:16]}")
        parts.extend(f"{k}={dumps(v)}" for k, v in data_of(event).items())
        return " ".join(parts).replace("\n", "\\n")

    return as_text


def cloudevents_formatter(
    mode: str, source: str | None, masker: LogMasker
) -> Callable[[Event], Any]:
    """Events as CloudEvents for HTTP, data masked by field name: an ``HTTPMessage`` per
    event (``structured`` or ``binary``), or structured JSON text (``batch``)."""
    from dataclasses import replace

    from cloudevents.core.bindings.http import to_binary_event, to_structured_event

    from pymodular.events import to_cloudevent, to_json

    def masked(event: Event) -> Event:
        if not event.data:
            return event
        return replace(event, data={k: masker.mask_field(k, v) for k, v in event.data.items()})

    if mode == "batch":
        return lambda event: to_json(masked(event), source=source).decode()
    convert = to_binary_event if mode == "binary" else to_structured_event
    return lambda event: convert(to_cloudevent(masked(event), source=source))


def bus_formatter(masker: LogMasker) -> Callable[[Event], Any]:
    """Events as ``(type, payload)`` for the event bus, data masked by field name."""

    def as_payload(event: Event) -> tuple[str, dict[str, Any]]:
        payload = event.as_dict()
        payload["data"] = {k: masker.mask_field(k, v) for k, v in event.data.items()}
        return event.type, payload

    return as_payload
