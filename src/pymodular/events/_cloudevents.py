"""Exporting events as CloudEvents (FR-042) with the ``cloudevents`` SDK (extra ``cloudevents``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pymodular._extras import Extra
from pymodular.events._event import Event

__all__ = ("CloudEventSink", "to_cloudevent")

TYPE_PREFIX = "io.pymodular."

_EXTRA = Extra("cloudevents")


def _sdk() -> Any:
    _EXTRA.require("exporting CloudEvents")  # MissingExtraError names the pip line
    from cloudevents.core.v1.event import CloudEvent

    return CloudEvent


def to_cloudevent(event: Event, *, source: str | None = None) -> Any:
    """Convert ``event`` to a CloudEvents v1.0 event (``cloudevents.core.v1.event.CloudEvent``).

    The type becomes ``io.pymodular.<type>``; module, phase, tenant and correlation id
    travel as extension attributes so a sink can filter without parsing data.
    """
    cloud_event = _sdk()
    attributes: dict[str, Any] = {
        "id": event.id,
        "type": TYPE_PREFIX + event.type,
        "source": source or f"/pymodular/{event.source}",
        "time": event.timestamp,
        "datacontenttype": "application/json",
    }
    if event.module:
        attributes["subject"] = event.module
        attributes["module"] = event.module.replace("-", "").replace("_", "").lower()[:20]
    if event.phase:
        attributes["phase"] = event.phase
    if event.correlation_id:
        attributes["correlationid"] = event.correlation_id
    if event.tenant:
        attributes["tenant"] = event.tenant
    return cloud_event(attributes, data=dict(event.data))


def to_json(event: Event, *, source: str | None = None) -> bytes:
    """Serialise ``event`` in the CloudEvents JSON structured format."""
    from cloudevents.core.formats.json import JSONFormat

    return bytes(JSONFormat().write(to_cloudevent(event, source=source)))


class CloudEventSink:
    """An observer that hands each event, as CloudEvents JSON, to ``send``.

    Subscribe it like any observer; it runs in its own buffered task, so a slow
    external system never slows the lifecycle::

        app.events.subscribe(CloudEventSink(post_to_collector), "module.*")
    """

    def __init__(
        self, send: Callable[[bytes], Awaitable[None] | None], *, source: str | None = None
    ) -> None:
        self._send = send
        self._source = source
        self.__qualname__ = f"CloudEventSink({getattr(send, '__qualname__', 'send')})"

    async def __call__(self, event: Event) -> None:
        result = self._send(to_json(event, source=self._source))
        if result is not None:
            await result
