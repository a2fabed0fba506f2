"""Pure decisions: retry or not, how long to wait, error rate, redaction."""

from __future__ import annotations

import json
import math

import pytest

from pymodular.modules.httpclient._redact import redact_body, redact_headers, redact_url
from pymodular.modules.httpclient._retry import (
    RetryPolicy,
    backoff_delay,
    retry_after_seconds,
    should_retry,
)
from pymodular.modules.httpclient._window import ErrorWindow
from pymodular.secrets import MASK, forget_secret, register_secret


@pytest.mark.parametrize(
    ("method", "attempt", "error", "status", "replayable", "expected"),
    [
        ("POST", 1, "ConnectError", None, True, True),  # never sent: any method
        ("POST", 1, "ConnectTimeout", None, False, True),
        ("POST", 1, "PoolTimeout", None, True, True),
        ("POST", 1, "ReadTimeout", None, True, False),  # may have been acted on
        ("GET", 1, "ReadTimeout", None, True, True),
        ("PUT", 2, "RemoteProtocolError", None, True, True),
        ("GET", 3, "ConnectError", None, True, False),  # out of attempts
        ("GET", 1, "ReadError", None, False, False),  # body cannot be sent again
        ("GET", 1, "UnsupportedProtocol", None, True, False),  # not a transient failure
        ("GET", 1, None, 503, True, True),
        ("DELETE", 2, None, 502, True, True),
        ("POST", 1, None, 503, True, False),
        ("GET", 1, None, 500, True, False),
        ("GET", 1, None, 200, True, False),
    ],
)
def test_should_retry(
    method: str,
    attempt: int,
    error: str | None,
    status: int | None,
    replayable: bool,
    expected: bool,
) -> None:
    policy = RetryPolicy(max_attempts=3)
    assert (
        should_retry(
            policy,
            method=method,
            attempt=attempt,
            error=error,
            status=status,
            replayable=replayable,
        )
        is expected
    )


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=0.5, jitter=False)
    delays = [backoff_delay(policy, n, lambda: 0.9) for n in range(1, 6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_full_jitter_waits_a_random_share_of_the_backoff() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=5.0, jitter=True)
    assert backoff_delay(policy, 3, lambda: 0.25) == pytest.approx(0.1)
    assert backoff_delay(policy, 3, lambda: 0.0) == 0.0


def test_retry_after_wins_but_stays_under_the_cap() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=2.0, jitter=False)
    assert backoff_delay(policy, 1, lambda: 0.5, retry_after=1.5) == pytest.approx(1.5)
    assert backoff_delay(policy, 1, lambda: 0.5, retry_after=30) == pytest.approx(2.0)
    ignoring = RetryPolicy(backoff_base=0.1, jitter=False, respect_retry_after=False)
    assert backoff_delay(ignoring, 1, lambda: 0.5, retry_after=30) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("Sun, 06 Nov 1994 08:49:47 GMT", 10.0),
        ("Sun, 06 Nov 1994 08:49:27 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_accepts_seconds_and_http_dates(
    header: str | None, expected: float | None
) -> None:
    assert retry_after_seconds(header, now=lambda: 784111777.0) == expected


def test_the_error_window_counts_recent_outcomes_only() -> None:
    now = [0.0]
    window = ErrorWindow(10.0, clock=lambda: now[0])
    for ok in (True, False, False, True):
        window.record(ok)
    assert window.counts() == (4, 2)
    assert window.rate() == 0.5
    now[0] = 11.0
    window.record(False)
    assert window.counts() == (1, 1)
    now[0] = 30.0
    assert window.rate() == 0.0


def test_the_error_window_stays_bounded_and_consistent() -> None:
    window = ErrorWindow(60.0, capacity=3, clock=lambda: 1.0)
    for ok in (False, False, True, True, True):
        window.record(ok)
    assert window.counts() == (3, 0)


def test_sensitive_headers_are_masked_case_insensitively() -> None:
    headers = [
        ("Authorization", "Bearer abc"),
        ("Cookie", "s=1"),
        ("X-Custom", "k"),
        ("Accept", "*/*"),
    ]
    assert redact_headers(headers, extra=["x-custom"]) == [
        ("Authorization", MASK),
        ("Cookie", MASK),
        ("X-Custom", MASK),
        ("Accept", "*/*"),
    ]


def test_urls_lose_passwords_and_sensitive_query_values() -> None:
    url = "https://user:pa55@api.test/v1/items?api_key=xyz&page=2&token=t0k"
    shown = redact_url(url)
    assert shown == f"https://user:{MASK}@api.test/v1/items?api_key={MASK}&page=2&token={MASK}"
    assert redact_url("https://api.test/a?q=1") == "https://api.test/a?q=1"


def test_json_bodies_are_masked_field_by_field_and_truncated() -> None:
    body = json.dumps(
        {"user": "ada", "password": "p", "nested": [{"Token": "t", "ok": 1}], "note": "x" * 50}
    )
    shown = redact_body(body.encode(), "application/json; charset=utf-8", 80)
    assert shown.startswith(
        '{"user": "ada", "password": "**********", "nested": [{"Token": "**********"'
    )
    assert shown.endswith(f"… ({len(body)} bytes)")
    custom = redact_body(b'{"pin": "1234"}', "application/json", 100, extra=["pin"])
    assert custom == '{"pin": "**********"}'


def test_form_text_and_binary_bodies() -> None:
    assert redact_body(b"user=a&password=b", "application/x-www-form-urlencoded", 100) == (
        f"user=a&password={MASK}"
    )
    assert redact_body(b"hello", "text/plain", 100) == "hello"
    assert redact_body(b"\x00\x01", "image/png", 100) == "<2 bytes of image/png>"
    assert redact_body(b"", "text/plain", 100) == ""


def test_registered_secrets_are_masked_anywhere_in_logged_text() -> None:
    register_secret("s3cr3t-value")
    try:
        assert "s3cr3t-value" not in redact_body(b"the key is s3cr3t-value", "text/plain", 100)
        assert "s3cr3t-value" not in redact_url("https://api.test/s3cr3t-value")
        assert redact_headers([("X-Echo", "s3cr3t-value")]) == [("X-Echo", MASK)]
    finally:
        forget_secret("s3cr3t-value")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("²", None),  # a digit to isdigit(), not to float()
        ("٣", None),
        ("9" * 400, math.inf),  # callers cap it
        ("Mon, 99 Foo 99999 99:99:99 GMT", None),
        ("  7 ", 7.0),
    ],
)
def test_a_hostile_retry_after_is_read_without_raising(header: str, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected
