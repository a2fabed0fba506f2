"""A client span per SQL statement, while tracing runs (SQLAlchemy cursor events).

SQLAlchemy's async engine runs the statement's sync code in a greenlet that shares the
task's context, so the span opened in ``before_cursor_execute`` is a child of the
request's or job's span and is current until ``after_cursor_execute`` (or
``handle_error``) closes it. The statement text is recorded with placeholders (values
are bound apart), cut to 1024 characters and scrubbed of secrets by the seam.

The listeners are on the engine only while a tracer is installed: SQLAlchemy calls
every cursor listener of an engine for every statement, so an engine nobody traces runs
none of these (SQLAlchemy's dispatch itself stays on once an engine had a listener, and
the SQLite backend keeps its own statement listeners).
"""

from __future__ import annotations

from typing import Any

import pymodular.modules._telemetry as telemetry

__all__ = ("StatementSpans",)

_KEY = "pymodular_span"


class StatementSpans:
    """Opens and closes a span around each statement ``sync_engine`` runs, while tracing
    is active; :meth:`close` when the engine is disposed of."""

    def __init__(self, sync_engine: Any, *, connection: str, system: str) -> None:
        self._engine = sync_engine
        self._connection = connection
        self._system = system
        self._open = 0  # spans opened and not yet closed
        self._opening = False  # the before listener is on the engine
        self._closing = False  # the after and error listeners are on the engine
        self._unwatch = telemetry.watch(self._tracing)

    @property
    def listening(self) -> bool:
        """Whether statements currently get spans (a tracer is active)."""
        return self._opening

    def close(self) -> None:
        """Stop following the tracer and take the listeners off the engine."""
        self._unwatch()
        self._tracing(False)
        self._detach_closers()

    def _tracing(self, active: bool) -> None:
        from sqlalchemy import event

        if active:
            if not self._closing:
                event.listen(self._engine, "after_cursor_execute", self._after)
                event.listen(self._engine, "handle_error", self._failed)
                self._closing = True
            if not self._opening:
                event.listen(self._engine, "before_cursor_execute", self._before)
                self._opening = True
        elif self._opening:
            event.remove(self._engine, "before_cursor_execute", self._before)
            self._opening = False
            if not self._open:
                self._detach_closers()
            # else: statements in flight still close their spans; the closers stay
            # until the next change of tracer or close().

    def _detach_closers(self) -> None:
        from sqlalchemy import event

        if self._closing:
            event.remove(self._engine, "after_cursor_execute", self._after)
            event.remove(self._engine, "handle_error", self._failed)
            self._closing = False

    def _before(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        context = rest[1]  # (parameters, context, executemany)
        tracer = telemetry.tracer
        if not tracer.active or context is None:
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.span(
            f"{operation} {self._connection}",
            kind="client",
            attributes={
                "db.system.name": self._system,
                "db.namespace": self._connection,
                "db.operation.name": operation,
                "db.query.text": statement,
            },
        )
        span.__enter__()
        context.__dict__[_KEY] = span
        self._open += 1

    def _after(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        context = rest[1]
        span = context.__dict__.pop(_KEY, None) if context is not None else None
        if span is not None:
            self._open -= 1
            span.__exit__(None, None, None)

    def _failed(self, exception_context: Any) -> None:
        context = exception_context.execution_context
        span = context.__dict__.pop(_KEY, None) if context is not None else None
        if span is not None:
            self._open -= 1
            error = exception_context.original_exception
            span.__exit__(type(error), error, None)
