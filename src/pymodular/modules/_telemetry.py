"""The seam between the bundled modules and tracing: spans and trace context.

Modules that do work worth a span (the router's requests, the HTTP client's calls, the
event bus's publishes and deliveries, the scheduler's runs) call :data:`tracer`. Until
the tracing module installs a real tracer it is :class:`Tracer`, which does nothing
and costs an attribute lookup; ``tracer.active`` lets a hot path skip even building
attributes. Nothing here imports OpenTelemetry.

::

    import pymodular.modules._telemetry as telemetry

    with telemetry.tracer.span("orders publish", kind="producer", attributes={...}) as span:
        telemetry.tracer.inject(headers)        # W3C traceparent of the current span
        ...
        span.set_attribute("messaging.message.id", message_id)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from types import TracebackType
from typing import Any, Literal

__all__ = ("NoSpan", "SpanKind", "Tracer", "install", "tracer", "uninstall", "watch")

SpanKind = Literal["internal", "server", "client", "producer", "consumer"]


class NoSpan:
    """A span that records nothing (also its own context manager)."""

    __slots__ = ()

    def __enter__(self) -> NoSpan:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (strings are redacted by real spans)."""

    def rename(self, name: str) -> None:
        """Change the span's name (a server span learns its route after routing)."""

    def fail(self, description: str) -> None:
        """Mark the span as failed with ``description`` (redacted by real spans)."""

    @property
    def ids(self) -> tuple[str, str] | None:
        """``(trace id, span id)`` as hex, or None when nothing is recorded."""
        return None

    @property
    def recording(self) -> bool:
        """Whether the span records (false when tracing is off or the trace unsampled):
        a caller may skip work that only feeds attributes."""
        return False


_NO_SPAN = NoSpan()


class Tracer:
    """The tracer the modules see while no tracing runs: every call does nothing."""

    active = False

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = "internal",
        attributes: Mapping[str, Any] | None = None,
        parent: Mapping[str, str] | None = None,
    ) -> Any:
        """A context manager around a span named ``name``, current while it is open.

        ``parent`` carries incoming trace context (``traceparent``/``tracestate``
        headers of a request or a message); without it the current span is the parent.
        An exception leaving the block marks the span failed and is re-raised.
        """
        return _NO_SPAN

    def enter(
        self,
        name: str,
        *,
        kind: SpanKind = "internal",
        parent: Mapping[str, str] | None = None,
    ) -> Any:
        """:meth:`span`, entered: current from now on, until the caller calls its
        ``__exit__`` (for a layer that opens a span in one call and ends it in another).

        The span is its own context manager (its ``__enter__`` returns it), as the
        seam's spans are; a tracer whose spans are not overrides this.
        """
        span = self.span(name, kind=kind, parent=parent)
        span.__enter__()
        return span

    def inject(self, carrier: MutableMapping[str, str]) -> None:
        """Write the current trace context into ``carrier`` (W3C ``traceparent``)."""


tracer: Tracer = Tracer()
"""The tracer in force (replaced by :func:`install`)."""

_DEFAULT = tracer

_watchers: list[Callable[[bool], None]] = []


def watch(changed: Callable[[bool], None]) -> Callable[[], None]:
    """Call ``changed(active)`` now and each time a tracer is installed or uninstalled;
    returns the function that stops it.

    For work that is cheaper not hooked in at all while nothing traces (SQLAlchemy
    statement listeners run on every statement, even to return at once).
    """
    _watchers.append(changed)
    changed(tracer.active)

    def unwatch() -> None:
        if changed in _watchers:
            _watchers.remove(changed)

    return unwatch


def _changed() -> None:
    active = tracer.active
    for changed in _watchers.copy():  # a callback may stop watching
        changed(active)


def install(new: Tracer) -> None:
    """Make ``new`` the tracer every bundled module uses (the tracing module's start)."""
    global tracer  # noqa: PLW0603 - one seam per process, like OpenTelemetry's own global
    tracer = new
    _changed()


def uninstall(old: Tracer) -> None:
    """Go back to the no-op tracer, if ``old`` is still the one installed."""
    global tracer  # noqa: PLW0603
    if tracer is old:
        tracer = _DEFAULT
        _changed()
