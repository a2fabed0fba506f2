"""Lifecycle and module events, observers, CloudEvents export (FR-011, FR-012, FR-042, FR-043)."""

from pymodular.events._bus import EventBus, Observer, Subscription
from pymodular.events._cloudevents import CloudEventSink, to_cloudevent, to_json
from pymodular.events._event import Event, EventType

__all__ = (
    "CloudEventSink",
    "Event",
    "EventBus",
    "EventType",
    "Observer",
    "Subscription",
    "to_cloudevent",
    "to_json",
)
