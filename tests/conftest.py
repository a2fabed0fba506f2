"""Suite-wide fixtures and the real-service policy.

Tests that need a service carry its marker (``@pytest.mark.redis`` ...). When the service
is unreachable they skip with the reason, except under ``CI=true``, where they fail:
a green CI must mean the real-service tests ran. A test that only uses private servers
(``private_redis`` ...) gets the marker with ``private=True`` and runs whatever the
shared service's state.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator

import pytest
from _pytest.logging import (
    LogCaptureHandler,
    _FileHandler,
    _LiveLoggingNullHandler,
    _LiveLoggingStreamHandler,
)
from hypothesis import HealthCheck, settings

# Property tests state what holds, not how fast: a deadline per example, or a check that
# generating the data is quick, measures only how loaded the machine is (CI runs the suite
# four workers wide on two cores). Every other health check stays on.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

# Private server instances for fault tests (``private_redis`` ...): see tests/_servers.
pytest_plugins = ("tests._servers.fixtures",)

SERVICES = {
    "postgres": 5432,
    "mariadb": 3306,
    "redis": 6379,
    "rabbitmq": 5672,
    "mqtt": 1883,
    "nats": 4222,
}
_reachable: dict[str, bool] = {}


def _reachable_port(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def needs_shared(item: pytest.Item, marker: str) -> bool:
    """Whether ``item`` talks to the shared server of ``marker``: it carries the marker
    other than as ``private=True`` (added for a test that only uses private servers)."""
    return any(not mark.kwargs.get("private") for mark in item.iter_markers(marker))


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, port in SERVICES.items():
        if not needs_shared(item, marker):
            continue
        if marker not in _reachable:
            _reachable[marker] = _reachable_port(port)
        if not _reachable[marker]:
            reason = f"{marker} is not reachable on 127.0.0.1:{port}"
            if os.environ.get("CI") == "true":
                pytest.fail(f"{reason} (CI=true: real-service tests must run)")
            pytest.skip(reason)


# pytest's own handlers: it adds and removes them around each phase of every test.
_PYTEST_HANDLERS = (
    LogCaptureHandler,
    _FileHandler,
    _LiveLoggingNullHandler,
    _LiveLoggingStreamHandler,
)


def _logging_state() -> tuple[int, list[logging.Handler], dict[str, int]]:
    root = logging.getLogger()
    handlers = [h for h in root.handlers if not isinstance(h, _PYTEST_HANDLERS)]
    levels = {
        name: logger.level
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if isinstance(logger, logging.Logger)
    }
    return root.level, handlers, levels


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """Fail a test that leaves the root logger's level or handlers, or the level of a
    logger that existed before it, other than it found them (and put them back, so the
    next test starts clean).

    A root logger left at INFO makes pytest's capture keep every record of every later
    test in the same worker; a handler left behind writes them twice.
    """
    level, handlers, levels = _logging_state()
    yield
    after_level, after_handlers, after_levels = _logging_state()
    changed = []
    root = logging.getLogger()
    if after_level != level:
        changed.append(
            f"root level {logging.getLevelName(level)} -> {logging.getLevelName(after_level)}"
        )
        root.setLevel(level)
    if after_handlers != handlers:
        changed.append(f"root handlers {handlers!r} -> {after_handlers!r}")
        for handler in after_handlers:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
    for name, before in levels.items():  # loggers a test creates for itself are its own
        after = after_levels.get(name, before)
        if after != before:
            changed.append(
                f"logger {name!r} level {logging.getLevelName(before)} -> "
                f"{logging.getLevelName(after)}"
            )
            logging.getLogger(name).setLevel(before)
    if changed:
        pytest.fail("the test left logging changed: " + "; ".join(changed), pytrace=False)
