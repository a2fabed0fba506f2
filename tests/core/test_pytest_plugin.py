"""The pytest plugin, as a project using pymodular meets it: a pytest run of its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SHOP = """
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from pymodular import Application, Dependency, Module, Service
from pymodular.config import ConfigModel, field
from pymodular.config.feeders import EnvFeeder, Feeder, YamlFeeder
from pymodular.modules.httpserver import HttpServerModule
from pymodular.modules.router import Router, RouterModule


class Mailer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, to: str) -> str:
        self.sent.append(to)
        return "smtp"


class GreeterConfig(ConfigModel):
    greeting: str = field("Hello", description="word to greet with")


class Greeting(BaseModel):
    text: str
    via: str


class Greeter(Module[GreeterConfig]):
    name = "greeter"
    router = Dependency(Router)

    def provides(self) -> Sequence[Service[Any]]:
        return [Service("mailer", Mailer(), interface=Mailer)]

    async def init(self, app: Any) -> None:
        greeting = self.config.greeting

        @self.router.post("/greetings/{name}", status_code=201)
        async def greet(name: str, mailer: Mailer) -> Greeting:
            return Greeting(text=f"{greeting}, {name}!", via=mailer.send(name))


def create_app(feeders: Sequence[Feeder] | None = None) -> Application:
    if feeders is None:
        feeders = [YamlFeeder("config.yaml"), EnvFeeder(prefix="SHOP_")]
    return Application(
        [RouterModule(), Greeter(), HttpServerModule()],
        name="shop",
        feeders=feeders,
        health=True,
    )


def create_app_without_feeders() -> Application:
    return create_app()
"""

TESTS = """
import pytest

from pymodular.modules.httpserver import HttpServer
from shop import Mailer


async def test_client_calls_the_running_app(client, app):
    answer = await client.post("/greetings/ada")
    assert (answer.status_code, answer.json()) == (201, {"text": "Hello, ada!", "via": "smtp"})
    assert (await client.get("/healthz")).status_code == 200
    assert app.services.get(HttpServer).port is None  # in-process: no port taken


async def test_events_are_recorded_from_the_start(app, app_events):
    assert app.state == "running"
    assert "application.started" in app_events.types()
    assert app_events.of("httpserver.started")[0].data["port"] is None
"""

OVERRIDES = """
import pytest

from shop import Mailer


class FakeMailer(Mailer):
    def send(self, to: str) -> str:
        self.sent.append(to)
        return "fake"


@pytest.fixture
def service_overrides():
    return {Mailer: FakeMailer()}


@pytest.fixture
def app_config():
    return {"greeter": {"greeting": "Hi"}}


async def test_config_and_overrides(client, app, service_overrides):
    answer = await client.post("/greetings/bob")
    assert answer.json() == {"text": "Hi, bob!", "via": "fake"}
    assert service_overrides[Mailer].sent == ["bob"]
    assert app.services.get(Mailer) is service_overrides[Mailer]
"""

DEFAULTS = """
async def test_real_files_and_environment_are_not_read(client):
    answer = await client.post("/greetings/eve")
    assert answer.json()["text"] == "Hello, eve!"  # not config.yaml's, not SHOP_'s
"""

NO_FEEDERS = """
import pytest

from shop import create_app_without_feeders


@pytest.fixture
def app_factory():
    return create_app_without_feeders


async def test_a_factory_without_feeders_is_refused(app):
    pass
"""


def _project(root: Path, ini: str) -> None:
    (root / "shop.py").write_text(textwrap.dedent(SHOP))
    (root / "config.yaml").write_text("greeter:\n  greeting: FromTheFile\n")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [tool.pytest.ini_options]
            {ini}
            pythonpath = ["."]
            asyncio_mode = "auto"
            asyncio_default_fixture_loop_scope = "function"
            addopts = "--strict-config --strict-markers -p no:cacheprovider"
            filterwarnings = ["error"]
            """
        )
    )


UNRELATED_PLUGINS = (
    "schemathesis",
    "faker",
    "xdist",
    "xdist.looponfail",
    "hypothesispytest",
    "anyio",
    "platformdirs",
)
# The run needs under 2 s of CPU; on two cores under a load of 25 (CI runs the suite four
# workers wide) a process gets a tenth of a core or less, so the bound leaves room for
# 40 s of it, and the tests that start such a run get a pytest timeout above that bound.
RUN_TIMEOUT = 100
RUN_TEST_TIMEOUT = RUN_TIMEOUT + 20


def _pytest(root: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["SHOP_GREETER__GREETING"] = "FromTheEnvironment"
    return subprocess.run(
        # Other installed plugins are not what is tested here and only cost start-up time
        # (they more than double the CPU the run needs).
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            *[arg for name in UNRELATED_PLUGINS for arg in ("-p", f"no:{name}")],
            *files,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.timeout(RUN_TEST_TIMEOUT)
def test_the_plugin_gives_an_app_a_client_events_config_and_overrides(tmp_path: Path) -> None:
    _project(tmp_path, 'pymodular_app = "shop:create_app"')
    (tmp_path / "test_shop.py").write_text(textwrap.dedent(TESTS))
    (tmp_path / "test_overrides.py").write_text(textwrap.dedent(OVERRIDES))
    (tmp_path / "test_defaults.py").write_text(textwrap.dedent(DEFAULTS))
    (tmp_path / "test_no_feeders.py").write_text(textwrap.dedent(NO_FEEDERS))
    done = _pytest(tmp_path)
    out = done.stdout + done.stderr
    assert "4 passed" in out, out[-3000:]
    assert "1 error" in out, out[-3000:]
    assert "takes no feeders=" in out
    assert "test_no_feeders.py::test_a_factory_without_feeders_is_refused" in out


@pytest.mark.timeout(RUN_TEST_TIMEOUT)
def test_the_plugin_says_how_to_name_the_factory(tmp_path: Path) -> None:
    _project(tmp_path, "")
    (tmp_path / "test_defaults.py").write_text(textwrap.dedent(DEFAULTS))
    done = _pytest(tmp_path)
    assert done.returncode != 0
    assert 'set pymodular_app = "package.module:create_app"' in done.stdout
