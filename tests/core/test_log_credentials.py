"""URL credentials are masked in every record of the process, whoever logs it (decision 0301).

The handlers here carry no :class:`~pymodular.logmask.LogMasker`: the record factory
alone must have masked the password of a DSN by the time any handler sees the record.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from pymodular.logs import TEXT_FORMAT, JsonFormatter, install_record_context
from pymodular.secrets import MASK, register_secret

PASSWORD = "pw-Kd93xQ"
DSN = f"postgresql://app:{PASSWORD}@db.internal:5432/shop"
SHOWN = f"postgresql://app:{MASK}@db.internal:5432/shop"


@pytest.fixture
def written(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of the given name writing to a buffer in the given format, nothing else."""
    name, form = request.param
    install_record_context()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT))
    logger = logging.getLogger(name)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


LOGGERS = [
    (name, form)
    for name in ("shop.orders", "sqlalchemy.engine.Engine", "asyncpg.pool", "httpx")
    for form in ("text", "json")
]


@pytest.mark.parametrize("written", LOGGERS, indirect=True, ids="-".join)
def test_a_dsn_password_is_masked_in_message_args_and_traceback(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = written
    logger.info(f"connecting to {DSN}")
    logger.warning("pool for %s is full (%d waiting)", DSN, 3)
    logger.error("options %(dsn)s", {"dsn": DSN})
    try:
        raise ConnectionError(f"cannot reach {DSN}")
    except ConnectionError:
        logger.exception("connect failed after %d tries", 2)
    text = stream.getvalue()
    assert PASSWORD not in text
    lines = text.splitlines()
    if written_json(lines):
        messages = [json.loads(line)["message"] for line in lines]
        exception = json.loads(lines[-1])["exception"]
    else:
        messages = lines
        exception = "\n".join(lines[lines.index(next(x for x in lines if "Traceback" in x)) :])
    assert SHOWN in messages[0]
    assert messages[1].endswith(f"pool for {SHOWN} is full (3 waiting)")
    assert messages[2].endswith(f"options {SHOWN}")
    assert f"ConnectionError: cannot reach {SHOWN}" in exception


def written_json(lines: list[str]) -> bool:
    return lines[0].startswith("{")


def test_masking_keeps_the_arguments_of_a_record_apart() -> None:
    install_record_context()
    record = logging.getLogRecordFactory()(
        "shop", logging.INFO, __file__, 1, "%s asked %s with %s", ("ada", DSN, 5), None
    )
    assert record.args == ("ada", SHOWN, 5)  # only the argument holding the password
    assert record.msg == "%s asked %s with %s"


def test_an_object_whose_text_holds_the_password_is_masked() -> None:
    class Settings:
        def __repr__(self) -> str:
            return f"Settings(dsn={DSN!r})"

    install_record_context()
    factory = logging.getLogRecordFactory()
    for template in ("%s", "%r"):
        record = factory("shop", logging.INFO, __file__, 1, template, (Settings(),), None)
        assert record.getMessage() == f"Settings(dsn='{SHOWN}')"


def test_urls_without_credentials_are_left_as_written() -> None:
    install_record_context()
    url = "https://api.example.com/v1/items?sort=a,b&flag&q=%20x"
    record = logging.getLogRecordFactory()(
        "shop", logging.INFO, __file__, 1, "fetching %s", (url,), None
    )
    assert record.getMessage() == f"fetching {url}"
    assert record.args == (url,)


def access_line(path: str) -> str:
    """What uvicorn's access formatter writes for a request (it reads ``record.args``)."""
    install_record_context()
    record = logging.getLogRecordFactory()(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.7:51234", "GET", path, "1.1", 302),
        None,
    )
    return AccessFormatter(fmt='%(client_addr)s - "%(request_line)s" %(status_code)s').format(
        record
    )


def test_uvicorn_access_lines_stay_whole_and_lose_credentials() -> None:
    assert (
        access_line("/health?verbose=1")
        == '10.0.0.7:51234 - "GET /health?verbose=1 HTTP/1.1" 302 Found'
    )
    line = access_line(f"/login?next={DSN}")
    assert line == f'10.0.0.7:51234 - "GET /login?next={SHOWN} HTTP/1.1" 302 Found'


def test_uvicorn_access_lines_stay_whole_with_a_registered_secret_in_the_path() -> None:
    register_secret("st-93kfQ0a7")
    line = access_line("/hooks/st-93kfQ0a7")
    assert line == f'10.0.0.7:51234 - "GET /hooks/{MASK} HTTP/1.1" 302 Found'


def test_a_record_is_rendered_once_before_its_handler() -> None:
    """The factory renders the message once, whichever scrubbers apply to the logger; a
    traceback with nothing to mask is left to the handler's formatter (its own shape),
    so it is formatted there once more."""
    renders = {"arg": 0, "error": 0}

    class Counted:
        def __str__(self) -> str:
            renders["arg"] += 1
            return "counted"

    class CountedError(Exception):
        def __str__(self) -> str:
            renders["error"] += 1
            return "counted error"

    install_record_context()
    register_secret("rs-77Pq2Lw")  # the secret scrubber runs too
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    record = None
    try:
        raise CountedError
    except CountedError as error:
        record = logging.getLogRecordFactory()(
            "httpx",
            logging.ERROR,
            __file__,
            1,
            "value %s",
            (Counted(),),
            (CountedError, error, error.__traceback__),
        )
    handler.handle(record)
    assert stream.getvalue().startswith("value counted\nTraceback")
    assert stream.getvalue().count("counted error") == 1
    assert renders == {"arg": 2, "error": 2}  # the factory and the handler, both


def test_a_registered_secret_percent_encoded_in_a_url_is_masked() -> None:
    from urllib.parse import quote

    register_secret("sk-Lm 9/Qr+x")
    install_record_context()
    url = f"https://hooks.example.com/in/{quote('sk-Lm 9/Qr+x', safe='')}?page=2"
    record = logging.getLogRecordFactory()(
        "shop", logging.INFO, __file__, 1, "posting to %s", (url,), None
    )
    assert "Lm" not in record.getMessage()
    assert record.getMessage().startswith("posting to https://hooks.example.com/in/")
