"""Logging as a service, correlated with events and scrubbed of secrets (FR-020, FR-047, FR-049).

Modules receive ``self.log`` (a child of the application's logger) and can also ask
for the ``"logger"`` service or the :class:`Logger` protocol. Any object with the usual
``debug/info/warning/error/exception`` methods can replace the stdlib logger.

:func:`install_record_context` makes every log record in the process carry
``correlation_id``, ``tenant``, ``component``, ``trace_id`` and ``span_id`` attributes,
and masks registered secret values and URL credentials (``user:password@``, sensitive
query values) in its message, arguments and traceback.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, runtime_checkable

from pymodular import secrets
from pymodular._context import correlation_id, current_module, current_tenant, current_trace
from pymodular._credentials import scrub_header_pairs, scrub_urls
from pymodular.logmask import LogMasker, extra_fields
from pymodular.secrets import json_safe

__all__ = (
    "BoundLogger",
    "JsonFormatter",
    "Logger",
    "bind",
    "configure_logging",
    "install_record_context",
    "log_fields",
    "scrub_logger",
)


@runtime_checkable
class Logger(Protocol):
    """What pymodular needs from a logger: the stdlib ``logging.Logger`` satisfies it."""

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def info(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...


_installed = False

# Loggers of libraries that print headers of their own (top-level name -> scrubber of
# the rendered message), applied where records are made (decision 0345), after the
# URL credentials every record loses (decision 0301).
_scrubbers: dict[str, Callable[[str], str]] = {
    "httpx": scrub_header_pairs,
    "httpcore": scrub_header_pairs,
}


def scrub_logger(name: str, scrub: Callable[[str], str]) -> None:
    """Pass the message of every record logged under ``name`` (and its children) through
    ``scrub`` when the record is made.

    For a library whose log lines may carry credentials that are not registered secrets
    and not in a URL (a cookie in a header dump: every record of the process already
    loses a URL's password and sensitive query values). The record factory does it, so
    every handler gets the scrubbed text — whatever its filters, whichever logger levels
    are set. ``name`` is a top-level logger name (``"httpx"``); ``httpx`` and
    ``httpcore`` are scrubbed with :func:`pymodular._credentials.scrub_header_pairs`
    from the start. Takes effect once :func:`install_record_context` has run (any
    Application, any registered secret, :func:`configure_logging`).
    """
    if "." in name:
        raise ValueError(f"scrub_logger takes a top-level logger name, not {name!r}")
    _scrubbers[name] = scrub


_fields: ContextVar[Mapping[str, Any]] = ContextVar(
    "pymodular_log_fields", default=MappingProxyType({})
)

F = TypeVar("F", bound=Callable[..., Any])


class log_fields:  # noqa: N801 - used like a function: `with log_fields(job="x"):`
    """Add ``fields`` to every log record made inside a block or a decorated function.

    Works in any logger of the process (the record factory adds them) and in nested
    blocks (inner values win); nothing is copied per logger or handler::

        with log_fields(tenant="acme", job_id="nightly"):
            log.info("started")                    # record.tenant, record.job_id

        @log_fields(component="importer")
        async def run() -> None: ...
    """

    __slots__ = ("_fields", "_tokens")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields
        self._tokens: list[Token[Mapping[str, Any]]] = []

    def __enter__(self) -> None:
        self._tokens.append(_fields.set({**_fields.get(), **self._fields}))

    def __exit__(self, *exc: object) -> None:
        _fields.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        fields = self._fields
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with log_fields(**fields):
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with log_fields(**fields):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]


class BoundLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger with fields bound to each of its records (see :func:`bind`)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        bound = self.extra or {}
        given = kwargs.get("extra")
        kwargs["extra"] = {**bound, **given} if given else bound  # the call's fields win
        return msg, kwargs

    def bind(self, **fields: Any) -> BoundLogger:
        """A logger with these fields added to the bound ones (the same handlers)."""
        return BoundLogger(self.logger, {**(self.extra or {}), **fields})


def bind(logger: logging.Logger | str, **fields: Any) -> BoundLogger:
    """``logger`` (or the logger of that name) with ``fields`` on every record it makes.

    ``bind(self.log, tenant=t).info("x")`` writes ``tenant`` as a field of the record;
    the JSON formatter shows it, :class:`~pymodular.logmask.LogMasker` masks it by name.
    """
    base = logging.getLogger(logger) if isinstance(logger, str) else logger
    return BoundLogger(base, fields)


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
        trace = current_trace()
        if trace is None:
            record.trace_id = record.span_id = "-"
        else:
            record.trace_id = f"{trace[0]:032x}"
            record.span_id = f"{trace[1]:016x}"
        fields = _fields.get()
        if fields:
            for name, value in fields.items():
                if name not in record.__dict__:
                    record.__dict__[name] = value
        _clean(record, _scrubbers.get(str(record.name or "").partition(".")[0]))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


_PLAIN = (int, float, bool, type(None))  # arguments whose text holds no credential


def _scrubbed(text: str, scrub: Callable[[str], str] | None) -> str:
    """``text`` with URL credentials, the library's own findings and registered secrets
    masked."""
    if "://" in text:
        text = scrub_urls(text)
    if scrub is not None:
        text = scrub(text)
    if secrets._ordered:
        text = secrets.redact(text)
    return text


def _clean(record: logging.LogRecord, scrub: Callable[[str], str] | None) -> None:
    """Mask credentials in ``record``'s message and traceback: the message is rendered
    once (not at all when no secret is registered and no part of it can hold a URL);
    only when it holds something to mask is the record rewritten.

    The factory runs inside the caller's ``log.info(...)``: nothing here may raise. A
    message that cannot be rendered (an argument whose ``str`` fails, a template that
    does not match its arguments) keeps its template and loses its arguments, with the
    error's type, rather than reaching logging's error report with the arguments in
    clear or breaking the caller.
    """
    try:
        _clean_message(record, scrub)
    except Exception as error:  # noqa: BLE001 - logging must never break its caller
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__qualname__
        record.msg = _safely_scrubbed(
            f"{template} (not rendered: {type(error).__qualname__})", scrub
        )
        record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        try:
            text = _TRACEBACKS.formatException(record.exc_info)
        except Exception:  # noqa: BLE001 - left to the handler's formatter
            return
        clean = _safely_scrubbed(text, scrub)
        if clean != text:  # otherwise each handler's formatter shows it its own way
            record.exc_text = clean


def _clean_message(record: logging.LogRecord, scrub: Callable[[str], str] | None) -> None:
    if scrub is not None or secrets._ordered or _may_hold_url(record):
        message = record.getMessage()  # raising: the record is not rendered (``_clean``)
        clean = _scrubbed(message, scrub)
        if clean != message:
            _rewrite(record, clean, scrub)


def _safely_scrubbed(text: str, scrub: Callable[[str], str] | None) -> str:
    """``_scrubbed`` for a last resort: a library's own scrubber that fails is skipped."""
    try:
        return _scrubbed(text, scrub)
    except Exception:  # noqa: BLE001
        return _scrubbed(text, None)


_TRACEBACKS = logging.Formatter()


def _may_hold_url(record: logging.LogRecord) -> bool:
    msg, args = record.msg, record.args
    if not isinstance(msg, str) or "://" in msg:
        return True
    if not args:
        return False
    for value in args.values() if isinstance(args, Mapping) else args:
        if isinstance(value, str):
            if "://" in value:
                return True
        elif not isinstance(value, _PLAIN):
            return True  # its text is only known once rendered
    return False


def _rewrite(record: logging.LogRecord, clean: str, scrub: Callable[[str], str] | None) -> None:
    """Mask the template and each argument, so that formatters reading ``record.args``
    (uvicorn's access formatter) keep working; when they do not render ``clean`` (a
    credential across two arguments, an object shown by ``%r``), the record carries
    ``clean`` with no arguments."""
    args = record.args
    msg = _scrubbed(record.msg, scrub) if isinstance(record.msg, str) else record.msg
    if isinstance(args, Mapping):
        masked: Any = {k: _scrubbed_arg(v, scrub) for k, v in args.items()}
    elif isinstance(args, tuple):
        masked = tuple(_scrubbed_arg(a, scrub) for a in args)
    else:
        masked = args
    if masked:
        try:
            rendered = str(msg) % masked
        except (TypeError, ValueError, KeyError):
            rendered = None
        if rendered == clean:
            record.msg, record.args = msg, masked
            return
    record.msg, record.args = clean, None


def _scrubbed_arg(value: Any, scrub: Callable[[str], str] | None) -> Any:
    if isinstance(value, _PLAIN):
        return value
    text = value if isinstance(value, str) else str(value)
    clean = _scrubbed(text, scrub)
    return value if clean == text else clean


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the correlation fields,
    trace and span ids when a span is open, then every extra field (``"fields"`` would be
    ambiguous for shippers: extras sit at the top level, as Elastic's and Loki's parsers
    expect). Secrets show as the mask; values that are not JSON become text."""

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
        for name, value in extra_fields(record).items():
            if name not in data:
                data[name] = json_safe(value)
        if record.exc_info:
            data["exception"] = record.exc_text or secrets.redact(
                self.formatException(record.exc_info)
            )
        return json.dumps(data, default=str)


TEXT_FORMAT = (
    "%(asctime)s %(levelname)-7s %(name)s [%(component)s %(correlation_id).8s] %(message)s"
)


def configure_logging(
    level: int | str = logging.INFO, *, json_lines: bool = False, mask: logging.Filter | None = None
) -> None:
    """Give the root logger one stderr handler with correlation fields (for ``app.run``).

    The handler masks records with ``mask`` (default: a
    :class:`~pymodular.logmask.LogMasker` with the default rules). Leaves logging alone
    when the root logger already has handlers.
    """
    install_record_context()
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(mask if mask is not None else LogMasker())
    root.addHandler(handler)
    root.setLevel(level)
