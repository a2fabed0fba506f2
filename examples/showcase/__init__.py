"""The showcase: a multi-tenant task API built only from pymodular's bundled modules.

``make run`` (``python -m examples.showcase``) serves it on embedded defaults — SQLite,
the memory cache, the memory event bus — with demo credentials made on the first run
in ``var/showcase/`` (``SHOWCASE_DATA`` moves it). ``make run-prod`` runs the same
application on PostgreSQL, Redis and NATS (``config.prod.yaml``). In a container run
``pymodular run examples.showcase:create_app --log-format json``.

Configuration, later wins: the built-in paths, ``config.yaml``, ``config.tracing.yaml``
with the exporter when tracing is on (``OTEL_EXPORTER_OTLP_ENDPOINT``, or
``SHOWCASE_TRACING=console|memory``; see ``observability.py``), ``<data>/demo.yaml`` when
it exists, every file in ``SHOWCASE_CONFIG`` (separated by ``:``), then ``APP_*``
variables (``APP_HTTPSERVER__PORT=9000``; ``..._FILE`` reads a value from a file).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from examples.showcase.activity import ActivityModule
from examples.showcase.demo import DEMO_FILE, write_demo_credentials
from examples.showcase.digest import DigestModule
from examples.showcase.home import HomeModule
from examples.showcase.observability import LogsModule, tracing_settings
from examples.showcase.tasks import TasksModule
from pymodular import Application
from pymodular.config.feeders import DictFeeder, EnvFeeder, YamlFeeder
from pymodular.modules.auth import AuthModule
from pymodular.modules.cache import CacheModule
from pymodular.modules.database import DatabaseModule
from pymodular.modules.eventbus import EventBusModule
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.jsonschema import JsonSchemaModule
from pymodular.modules.metrics import MetricsModule
from pymodular.modules.router import RouterModule
from pymodular.modules.scheduler import SchedulerModule
from pymodular.modules.tracing import TracingModule
from pymodular.tenancy import TenancyOptions

__all__ = ("CONFIG_FILE", "HERE", "LISTENING", "TRACING_FILE", "create_app", "main")

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / "config.yaml"
TRACING_FILE = HERE / "config.tracing.yaml"
DEFAULT_DATA = "var/showcase"
LISTENING = re.compile(r"listening on (https?://[^\s]+)")
"""The first line a starting showcase prints, with its URL."""


def create_app(environ: Mapping[str, str] | None = None) -> Application:
    """The showcase application, configured from its files and the environment."""
    env = os.environ if environ is None else environ
    data = Path(env.get("SHOWCASE_DATA", DEFAULT_DATA))
    built_in = {
        "database": {
            "default": {
                "dsn": f"sqlite:///{data / 'showcase.db'}",
                "migrations": {"directory": str(HERE / "migrations")},
            }
        },
    }
    feeders = [DictFeeder(built_in), YamlFeeder(CONFIG_FILE)]
    tracing = tracing_settings(env)
    if tracing is not None:
        feeders += [YamlFeeder(TRACING_FILE), DictFeeder({"tracing": tracing})]
    if (data / DEMO_FILE).exists():
        feeders.append(YamlFeeder(data / DEMO_FILE))
    feeders += [YamlFeeder(Path(p)) for p in env.get("SHOWCASE_CONFIG", "").split(":") if p]
    feeders.append(EnvFeeder(prefix="APP_", environ=env))
    tenants = env.get("SHOWCASE_TENANTS", str(HERE / "tenants"))
    app = Application(
        [
            *([TracingModule()] if tracing is not None else []),
            LogsModule(),
            DatabaseModule(),
            CacheModule(),
            EventBusModule(),
            SchedulerModule(),
            JsonSchemaModule(),
            RouterModule(),
            MetricsModule(),
            AuthModule(),
            TasksModule(),
            ActivityModule(),
            DigestModule(),
            HomeModule(),
            HttpServerModule(),
        ],
        name="showcase",
        feeders=feeders,
        tenancy=TenancyOptions(directories=[tenants], environ=env),
        health=True,
        dynamic_reload=True,
    )

    async def announce() -> None:
        url = app.services.get(HttpServer).url
        key = data / "keys" / "acme-admin.key"
        lines = [f"showcase listening on {url} (Ctrl-C to stop)", f"  API docs: {url}/docs"]
        if key.exists():
            lines.append(f'  try:      curl -H "X-API-Key: $(cat {key})" {url}/api/tasks')
        print("\n".join(lines), flush=True)

    app.on_started(announce)
    return app


def main() -> int:
    """``python -m examples.showcase``: demo credentials on the first run, then serve."""
    data = Path(os.environ.get("SHOWCASE_DATA", DEFAULT_DATA))
    write_demo_credentials(data)
    return create_app().run()
