"""The pytest plugin pymodular registers (entry point ``pytest11``): an application per test.

Point it at your application factory in the pytest configuration::

    [tool.pytest.ini_options]
    pymodular_app = "shop.app:create_app"      # a factory accepting feeders=

and use the fixtures::

    async def test_greeting(client):                      # the running app, over HTTP
        assert (await client.get("/greetings/Ada")).json() == {"text": "Hello, Ada!"}

    @pytest.fixture
    def app_config():                                     # the app's whole configuration
        return {"greeter": {"greeting": "Hi"}}

    @pytest.fixture
    def service_overrides():                              # fakes, found by type first
        return {Mailer: FakeMailer()}

    async def test_started(app, app_events):
        assert "application.started" in app_events.types()

============================  ================================================================
``app_factory``               the factory named by ``pymodular_app`` (override the fixture to
                              build the app another way); it is called with ``feeders=``
``app_config``                a dict, the only configuration source: the factory's own
                              feeders (files, ``.env``, the environment) are replaced
``service_overrides``         ``{type: object}``: each registered for its type at a priority
                              above every module's, so lookups and injection by type find it
``app_events``                an :class:`~pymodular.testing.EventRecorder` of every event,
                              from registration on
``app``                       the application, started (servers in-process: no port) and
                              stopped after the test
``client``                    a :class:`~pymodular.testing.TestClient` calling ``app``
============================  ================================================================

Async fixtures need pytest-asyncio.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.module import Module
    from pymodular.services import Service
    from pymodular.testing._client import TestClient
    from pymodular.testing._kit import EventRecorder

__all__ = (
    "app",
    "app_config",
    "app_events",
    "app_factory",
    "client",
    "pytest_addoption",
    "service_overrides",
)

INI = "pymodular_app"
OVERRIDE_PRIORITY = 1_000_000
"""The priority test overrides are registered at: above any module's."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``pymodular_app`` setting."""
    parser.addini(
        INI,
        "The application factory the pymodular 'app' fixture calls, as 'package.module:name' "
        "(it must accept feeders=)",
        default="",
    )


@pytest.fixture
def app_factory(request: pytest.FixtureRequest) -> Callable[..., Application]:
    """The factory named by the ``pymodular_app`` setting."""
    spec = str(request.config.getini(INI) or "")
    if not spec:
        pytest.fail(
            f"the pymodular 'app' fixture needs an application factory: set {INI} = "
            '"package.module:create_app" in the pytest configuration, or define an '
            "'app_factory' fixture",
            pytrace=False,
        )
    return load_factory(spec)


def load_factory(spec: str) -> Callable[..., Application]:
    """Import ``package.module:name``."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        pytest.fail(f"{INI} = {spec!r} must look like 'package.module:create_app'", pytrace=False)
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{INI} = {spec!r} cannot be loaded: {exc}", pytrace=False)
    if not callable(found):
        pytest.fail(f"{INI} = {spec!r} is not callable", pytrace=False)
    return found  # type: ignore[no-any-return]


@pytest.fixture
def app_config() -> dict[str, Any]:
    """The application's configuration (empty: every section on its defaults)."""
    return {}


@pytest.fixture
def service_overrides() -> dict[type[Any], Any]:
    """Objects to provide instead of the modules' services, by type (none)."""
    return {}


@pytest.fixture
def app_events() -> EventRecorder:
    """Every event the application emits."""
    from pymodular.testing._kit import EventRecorder

    return EventRecorder()


def build_app(
    factory: Callable[..., Application],
    config: Mapping[str, Any],
    overrides: Mapping[type[Any], Any],
    recorder: EventRecorder | None = None,
) -> Application:
    """``factory(feeders=[DictFeeder(config)])`` with ``overrides`` registered."""
    from pymodular.application import Application
    from pymodular.config.feeders import DictFeeder

    _check_feeders(factory)
    application = factory(feeders=[DictFeeder(dict(config))])
    if not isinstance(application, Application):
        pytest.fail(
            f"the app factory returned {type(application).__qualname__}, not an Application",
            pytrace=False,
        )
    if recorder is not None:
        application.events.subscribe(recorder, name="pytest-app-events")
    if overrides:
        application.register(_overrides(overrides))
    return application


def _check_feeders(factory: Callable[..., Any]) -> None:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if "feeders" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    pytest.fail(
        f"the app factory {getattr(factory, '__qualname__', factory)!r} takes no feeders=; "
        "add `feeders: Sequence[Feeder] | None = None` and use it instead of the default "
        "feeders, so tests configure the app from a dict and never read your real files "
        "or environment",
        pytrace=False,
    )


def _overrides(overrides: Mapping[type[Any], Any]) -> Module[Any]:
    from pymodular.module import Module
    from pymodular.services import Service

    services: Sequence[Service[Any]] = [
        Service(
            None,
            instance,
            interface=kind,
            priority=OVERRIDE_PRIORITY,
            description=f"test override of {kind.__qualname__}",
        )
        for kind, instance in overrides.items()
    ]

    class TestOverrides(Module[None]):
        name = "test_overrides"

        def provides(self) -> Sequence[Service[Any]]:
            return services

    return TestOverrides()


async def _app(
    app_factory: Callable[..., Application],
    app_config: dict[str, Any],
    service_overrides: dict[type[Any], Any],
    app_events: EventRecorder,
) -> AsyncIterator[Application]:
    """The application from ``app_factory``, started in-process, stopped after the test."""
    from pymodular.testing._process import in_process

    application = build_app(app_factory, app_config, service_overrides, app_events)
    with in_process():
        await application.start()
    try:
        await application.events.flush()
        yield application
    finally:
        await application.stop()
        await application.events.flush()


async def _client(app: Application) -> AsyncIterator[TestClient]:
    """A test client calling the running ``app`` in-process."""
    from pymodular.testing._client import TestClient

    async with TestClient(app) as http:
        yield http


def _async_fixture(function: Callable[..., Any], name: str) -> Any:
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - exercised without pytest-asyncio only

        def missing() -> None:
            pytest.fail(f"the pymodular {name!r} fixture needs pytest-asyncio", pytrace=False)

        return pytest.fixture(missing, name=name)
    return pytest_asyncio.fixture(function, name=name)


app = _async_fixture(_app, "app")
client = _async_fixture(_client, "client")
