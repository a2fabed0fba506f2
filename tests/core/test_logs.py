"""Logging: a pluggable service, correlated with events, scrubbed of secrets (FR-020, 047, 049)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from pymodular import Application, Dependency, Logger, Module
from pymodular.logs import JsonFormatter
from pymodular.secrets import Secret


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
