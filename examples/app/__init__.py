"""The example application: a notes API on httpserver + router + health.

``python -m examples.app`` serves it on the address in ``config.yaml``,
overridable from the environment (``APP_HTTPSERVER__PORT=9000``), prints the URL and
stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from examples.app.notes import NotesConfig, NotesModule
from pymodular import Application
from pymodular.config.feeders import EnvFeeder, YamlFeeder
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import RouterModule

__all__ = ("CONFIG_FILE", "NotesConfig", "NotesModule", "build_app", "main")

CONFIG_FILE = Path(__file__).with_name("config.yaml")


def build_app(
    config_file: Path = CONFIG_FILE, environ: Mapping[str, str] | None = None
) -> Application:
    """The notes application: configuration from ``config_file`` plus ``APP_*`` variables."""
    app = Application(
        [RouterModule(), NotesModule(), HttpServerModule()],
        name="notes",
        feeders=[YamlFeeder(config_file), EnvFeeder(prefix="APP_", environ=environ)],
        health=True,
    )

    async def announce() -> None:
        server = app.services.get(HttpServer)
        print(f"notes API listening on {server.url}/api/notes (Ctrl-C to stop)", flush=True)

    app.on_started(announce)
    return app


def main() -> int:
    """Run until Ctrl-C or SIGTERM; the exit code says how it went."""
    return build_app().run()
