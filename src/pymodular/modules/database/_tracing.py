"""A client span per SQL statement, when tracing runs (SQLAlchemy cursor events).

SQLAlchemy's async engine runs the statement's sync code in a greenlet that shares the
task's context, so the span opened in ``before_cursor_execute`` is a child of the
request's or job's span and is current until ``after_cursor_execute`` (or
``handle_error``) closes it. The statement text is recorded with placeholders (values
are bound apart), cut to 1024 characters and scrubbed of secrets by the seam.
"""

from __future__ import annotations

from typing import Any

import pymodular.modules._telemetry as telemetry

__all__ = ("trace_statements",)

_KEY = "pymodular_span"


def trace_statements(sync_engine: Any, *, connection: str, system: str) -> None:
    """Open and close a span around each statement ``sync_engine`` runs."""
    from sqlalchemy import event

    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        context = rest[1]  # (parameters, context, executemany)
        tracer = telemetry.tracer
        if not tracer.active or context is None:
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.span(
            f"{operation} {connection}",
            kind="client",
            attributes={
                "db.system.name": system,
                "db.namespace": connection,
                "db.operation.name": operation,
                "db.query.text": statement,
            },
        )
        span.__enter__()
        context.__dict__[_KEY] = span

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        context = rest[1]
        span = context.__dict__.pop(_KEY, None) if context is not None else None
        if span is not None:
            span.__exit__(None, None, None)

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = context.__dict__.pop(_KEY, None) if context is not None else None
        if span is not None:
            error = exception_context.original_exception
            span.__exit__(type(error), error, None)

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)
