"""Suite-wide fixtures and the real-service policy.

Tests that need a service carry its marker (``@pytest.mark.redis`` ...). When the service
is unreachable they skip with the reason, except under ``CI=true``, where they fail:
a green CI must mean the real-service tests ran.
"""

from __future__ import annotations

import os
import socket

import pytest
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


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, port in SERVICES.items():
        if item.get_closest_marker(marker) is None:
            continue
        if marker not in _reachable:
            _reachable[marker] = _reachable_port(port)
        if not _reachable[marker]:
            reason = f"{marker} is not reachable on 127.0.0.1:{port}"
            if os.environ.get("CI") == "true":
                pytest.fail(f"{reason} (CI=true: real-service tests must run)")
            pytest.skip(reason)
