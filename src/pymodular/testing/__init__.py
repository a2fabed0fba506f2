"""A kit for testing modules and applications the way pymodular tests its own.

::

    from pymodular.testing import EventRecorder, FakeModule, TestClient, app_harness

    async def test_my_module_starts():
        async with app_harness([MyModule()], config={"my": {"url": "x"}}) as (app, events):
            assert app.state == "running"
            assert "module.started" in events.types()

    async def test_the_api():
        async with TestClient(create_app()) as client:     # in-process, no port
            assert (await client.get("/healthz")).status_code == 200

The package also registers a pytest plugin (``pymodular.testing.plugin``) with the
fixtures ``app``, ``client``, ``app_events``, ``app_config``, ``service_overrides`` and
``app_factory``. ``TestClient`` needs httpx (``pip install "pymodular[httpclient]"``).

Contract verifiers check a module against the reload, health and drain contracts
(``verify_reload_contract``, ``verify_health_contract``, ``verify_drain_contract``).
"""

from typing import TYPE_CHECKING

from pymodular._lazy import lazy_exports as _lazy_exports
from pymodular.testing._contracts import (
    ContractViolation,
    verify_drain_contract,
    verify_health_contract,
    verify_reload_contract,
)
from pymodular.testing._kit import CallLog, EventRecorder, FakeModule, app_harness, reload_config
from pymodular.testing._process import in_process, serving_in_process

if TYPE_CHECKING:
    from pymodular.testing._client import TestClient, entry_point

__all__ = (
    "CallLog",
    "ContractViolation",
    "EventRecorder",
    "FakeModule",
    "TestClient",
    "app_harness",
    "entry_point",
    "in_process",
    "reload_config",
    "serving_in_process",
    "verify_drain_contract",
    "verify_health_contract",
    "verify_reload_contract",
)

# The client loads httpx only when first used.
__getattr__ = _lazy_exports(__name__, {"TestClient": "_client", "entry_point": "_client"})
