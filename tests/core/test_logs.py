"""Logging: a pluggable service, correlated with events, scrubbed of secrets (FR-020, 047, 049)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest

from pymodular import Application, Dependency, Logger, Module, logs
from pymodular._credentials import scrub_credentials
from pymodular.logs import JsonFormatter, install_record_context, scrub_logger
from pymodular.secrets import MASK, Secret


class ListLogger:
    """Any object with the usual methods can be the application's logger."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _log(self, level: str, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append((level, msg % args if args else msg))

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("debug", msg, *args)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("info", msg, *args)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("warning", msg, *args)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("error", msg, *args)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("exception", msg, *args)


async def test_a_custom_logger_is_the_logger_service_and_each_modules_log() -> None:
    custom = ListLogger()

    class Talker(Module[None]):
        name = "talker"

        async def start(self) -> None:
            self.log.info("hello from %s", self.name)
            self.app.services.get(Logger).warning("via the service")

    async with Application([Talker()], logger=custom) as app:
        assert app.services.get("logger") is custom
    assert ("info", "hello from talker") in custom.lines
    assert ("warning", "via the service") in custom.lines


def test_registered_secrets_are_masked_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    Application()  # installs the record context
    Secret("pa55word-for-logs")
    logger = logging.getLogger("pymodular.test")
    with caplog.at_level(logging.INFO):
        logger.info("connecting with %s", "postgres://u:pa55word-for-logs@db")
        try:
            raise RuntimeError("bad password pa55word-for-logs")
        except RuntimeError:
            logger.exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "pa55word-for-logs" not in text
    assert "postgres://u:**********@db" in caplog.records[0].getMessage()


def test_json_formatter_writes_one_object_with_correlation_fields() -> None:
    Application()
    record = logging.getLogger("pymodular.json").makeRecord(
        "pymodular.json", logging.INFO, __file__, 1, "hello %s", ("world",), None
    )
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "hello world"
    assert {"time", "level", "logger", "correlation_id", "tenant", "module"} <= set(data)


async def test_modules_can_require_the_logger_service_by_its_protocol() -> None:
    custom = ListLogger()

    class Needy(Module[None]):
        name = "needy"
        logger = Dependency(Logger)

        async def init(self, app: Application) -> None:
            self.logger.info("injected")

    needy = Needy()
    async with Application([needy], logger=custom) as app:
        assert needy.logger is custom
        assert app.order == ["needy"]
    assert ("info", "injected") in custom.lines


def test_credentials_in_urls_and_header_pairs_are_scrubbed() -> None:
    line = (
        "HTTP Request: GET https://u:pw-Zq1@api.test/v1?token=tk-Zq1&page=2 "
        "\"HTTP/1.1 200 OK\" receive_response_headers.complete return_value=(b'HTTP/1.1', "
        "200, b'OK', [(b'Set-Cookie', b'sid=ck-Zq1'), (b'Content-Type', b'text/plain')])"
    )
    shown = scrub_credentials(line)
    for credential in ("pw-Zq1", "tk-Zq1", "ck-Zq1"):
        assert credential not in shown
    assert "page=2" in shown
    assert "(b'Content-Type', b'text/plain')" in shown
    assert f"(b'Set-Cookie', b'{MASK}')" in shown


def test_third_party_records_are_scrubbed_for_every_handler_and_level() -> None:
    install_record_context()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    keep = Keep()
    library = logging.getLogger("httpcore.http11")
    library.addHandler(keep)
    library.setLevel(logging.DEBUG)
    try:
        library.debug("send %s", "https://api.test/?api_key=k-Xw2")
    finally:
        library.removeHandler(keep)
        library.setLevel(logging.NOTSET)
    assert seen == [f"send https://api.test/?api_key={MASK}"]


def test_scrub_logger_adds_a_library_and_takes_top_level_names_only() -> None:
    install_record_context()
    scrub_logger("securitytestlib", lambda text: text.replace("hidden-Vb3", "[gone]"))
    try:
        record = logging.getLogRecordFactory()(
            "securitytestlib.inner", logging.INFO, __file__, 1, "x=%s", ("hidden-Vb3",), None
        )
    finally:
        del logs._scrubbers["securitytestlib"]
    assert record.getMessage() == "x=[gone]"
    with pytest.raises(ValueError, match="top-level"):
        scrub_logger("a.b", str)


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("half-built object")


def test_a_message_that_cannot_be_rendered_never_breaks_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_record_context()
    log = logging.getLogger("pymodular.tests.unrenderable")
    with caplog.at_level(logging.INFO, logger=log.name):
        log.info("value %s", _Unprintable())  # its str raises
        log.info("%(a)s", {"b": "https://user:hunter2-in-url@db.example/x"})  # wrong key
        log.info("two %s %s", "https://user:hunter2-in-url@db.example/x")  # noqa: PLE1206 - too few
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "value %s (not rendered: RuntimeError)"
    assert messages[1] == "%(a)s (not rendered: KeyError)"
    assert messages[2] == "two %s %s (not rendered: TypeError)"
    assert all(r.args is None for r in caplog.records)
    assert "hunter2-in-url" not in caplog.text


def test_a_record_made_from_a_mapping_gets_the_correlation_fields() -> None:
    install_record_context()
    record = logging.makeLogRecord({"name": "made", "msg": "built by hand %s", "args": (1,)})
    assert record.getMessage() == "built by hand 1"
    assert record.correlation_id == "-"


def test_a_formatters_own_traceback_shape_is_kept_when_there_is_nothing_to_mask() -> None:
    install_record_context()

    class OneLine(logging.Formatter):
        def formatException(self, ei: Any) -> str:  # noqa: N802 - the stdlib's name
            return f"exception: {ei[1]!r}"

    def record_of(error: Exception) -> logging.LogRecord:
        try:
            raise error
        except ValueError:
            return logging.getLogger("pymodular.tests.tb").makeRecord(
                "pymodular.tests.tb", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
            )

    plain = OneLine().format(record_of(ValueError("no secret here")))
    assert plain == "failed\nexception: ValueError('no secret here')"
    Secret("tb-secret-0451")
    masked = OneLine().format(record_of(ValueError("tb-secret-0451 leaked")))
    assert "tb-secret-0451" not in masked
    assert MASK in masked
