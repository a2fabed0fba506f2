"""A kit for testing modules the way pymodular tests its own.

::

    from pymodular.testing import EventRecorder, FakeModule, app_harness

    async def test_my_module_starts():
        async with app_harness([MyModule()], config={"my": {"url": "x"}}) as (app, events):
            assert app.state == "running"
            assert "module.started" in events.types()
"""

from pymodular.testing._kit import CallLog, EventRecorder, FakeModule, app_harness, reload_config

__all__ = ("CallLog", "EventRecorder", "FakeModule", "app_harness", "reload_config")
