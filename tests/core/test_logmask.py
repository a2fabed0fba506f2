"""The log masker: fields by name, patterns in text, Secret values; strategies."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from pymodular.logmask import REDACTED, LogMasker, Partial, mask_value
from pymodular.logs import JsonFormatter, bind, install_record_context, log_fields
from pymodular.secrets import MASK, Secret, forget_secret


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing JSON lines through a masker into a buffer."""
    install_record_context()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(LogMasker())
    logger = logging.getLogger(f"test.logmask.{id(buffer)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def records(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_fields_are_masked_by_name_and_suffix(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    logger.info(
        "login",
        extra={
            "password": "hunter2",
            "db_password": "pw",
            "api_key": "k-123",
            "monkey": "banana",
            "Authorization": "Bearer abc",
            "email": "ada@example.com",
            "user": "ada",
        },
    )
    (line,) = records(buffer)
    assert line["password"] == REDACTED
    assert line["db_password"] == REDACTED
    assert line["api_key"] == REDACTED
    assert line["monkey"] == "banana"  # 'key' matches whole words only
    assert line["Authorization"] == REDACTED
    assert line["email"] == "ad*@example.com"
    assert line["user"] == "ada"


def test_patterns_mask_card_numbers_and_emails_in_messages(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    logger.info("card %s paid by %s", "4111 1111 1111 1111", "grace.hopper@navy.mil")
    logger.info("order 1234567890123 shipped")  # fails the Luhn check: an order number
    first, second = records(buffer)
    assert first["message"] == "card ***************1111 paid by gr**********@navy.mil"
    assert second["message"] == "order 1234567890123 shipped"


def test_secrets_show_as_the_mask_in_fields_args_and_text(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    secret = Secret("registered-value-77")
    try:
        logger.info("connect %s", secret, extra={"upstream": {"auth": Secret("x")}})
        logger.info("dsn postgres://u:registered-value-77@h/db")
    finally:
        forget_secret(secret)
    first, second = records(buffer)
    assert first["message"] == f"connect {MASK}"
    assert first["upstream"] == {"auth": MASK}
    assert "registered-value-77" not in second["message"]


def test_mapping_arguments_are_masked_by_key(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    logger.info("user %(user)s with %(token)s", {"user": "ada", "token": "t-1"})
    (line,) = records(buffer)
    assert line["message"] == f"user ada with {REDACTED}"


@pytest.mark.parametrize(
    ("value", "strategy", "expected"),
    [
        ("secret-value", "redact", REDACTED),
        ("abcdefgh", "partial", "ab****gh"),
        ("abc", "partial", "***"),  # shorter than min_length: all masked
        (12345, "partial", REDACTED),  # partial of a non-string redacts
        ("same", "hash", mask_value("same", "hash")),
        ("visible", "none", "visible"),
        (Secret("s-none"), "none", MASK),
    ],
)
def test_strategies(value: object, strategy: str, expected: object) -> None:
    assert mask_value(value, strategy, Partial()) == expected  # type: ignore[arg-type]


def test_hash_is_stable_and_hides_the_value() -> None:
    hashed = mask_value("user-42", "hash")
    assert hashed == mask_value("user-42", "hash") != mask_value("user-43", "hash")
    assert hashed.startswith("[HASH:")
    assert "user-42" not in hashed


def test_custom_rules_replace_the_defaults(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    handler = logger.handlers[0]
    handler.filters = [LogMasker(fields={"customer": "hash"}, patterns=())]
    logger.info("mail ada@example.com", extra={"customer": "c-9", "password": "kept"})
    (line,) = records(buffer)
    assert line["customer"] == mask_value("c-9", "hash")
    assert line["password"] == "kept"
    assert line["message"] == "mail ada@example.com"


def test_bound_and_context_fields_reach_the_record(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    log = bind(logger, tenant_name="acme").bind(request="r-1")
    with log_fields(job_id="nightly", api_token="t-0"):
        log.info("working")
        with log_fields(job_id="inner"):
            logger.info("nested", extra={"request": "given"})
    logger.info("outside")
    working, nested, outside = records(buffer)
    assert working["tenant_name"] == "acme"
    assert working["request"] == "r-1"
    assert working["job_id"] == "nightly"
    assert working["api_token"] == REDACTED
    assert nested["job_id"] == "inner"
    assert nested["request"] == "given"
    assert "job_id" not in outside
    assert log.logger is logger  # binding wraps the logger: no copy of it or its handlers


async def test_log_fields_decorates_coroutines_and_functions(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines

    @log_fields(job_id="async-job")
    async def run() -> str:
        logger.info("async")
        return "done"

    @log_fields(job_id="sync-job")
    def run_sync() -> int:
        logger.info("sync")
        return 1

    assert await run() == "done"
    assert run_sync() == 1
    assert [r["job_id"] for r in records(buffer)] == ["async-job", "sync-job"]


def test_json_lines_are_one_object_per_record_with_shipper_fields(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = lines
    logger.warning("multi\nline message")
    text = buffer.getvalue()
    assert text.count("\n") == 1  # the newline inside the message is escaped
    (line,) = records(buffer)
    assert {"time", "level", "logger", "message", "correlation_id", "tenant", "module"} <= set(line)
    assert line["level"] == "WARNING"


def test_configure_logging_masks_by_default() -> None:
    import subprocess
    import sys

    probe = (
        "import logging\n"
        "from pymodular.logs import configure_logging\n"
        "configure_logging(json_lines=True)\n"
        "logging.getLogger('app').info('card 4111111111111111', extra={'password': 'p4ss'})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    line = json.loads(result.stderr)
    assert line["password"] == REDACTED
    assert line["message"] == "card ************1111"
