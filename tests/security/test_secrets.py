"""Secrets seeded into every configuration source never show anywhere (FR-049).

One distinct secret per source — a layered directory, YAML, TOML, JSON, ``.env``, an
environment variable, a ``*_FILE`` file, a secret reference, a tenant's file — lands on
the secret fields of the database (DSN password), auth (HS256 key, API key), cache
(Redis URL password), event bus (broker password), HTTP client (bearer token), proxy
(an upstream ``Authorization`` header), admin (token) and the application's own section.
The application (``secrets_app.py``) starts on the real services, answers requests —
successes, 401s, 404s, a 500, a 502 from a proxy target that refuses connections, an
HTTP client call to a closed port, a cache whose Redis refuses the password — reloads
(once applied, once refused), emits events, is read by the CLI and stops.

Then no secret, nor its base64, URL-encoded or JSON-escaped form, is in: any log record
of any logger at DEBUG (httpx, httpcore, sqlalchemy, asyncpg, nats included) with its
traceback, any event, any exception message or traceback, ``/metrics``, any span's
attributes, events and status, ``app.inspect()``, the admin endpoints, ``pymodular
inspect`` and ``pymodular config check`` (table and JSON, from files and from the
running process), and every HTTP answer.

There are no CLI overrides of configuration values to seed (the command has none).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from pymodular.errors import PymodularError
from pymodular.modules.auth import JwtKey
from pymodular.modules.httpserver import HttpServer
from pymodular.modules.tracing import Tracing
from pymodular.secrets import forget_secret
from pymodular.testing import EventRecorder
from tests.conformance.eventbus.kits import NatsKit, RabbitMqKit
from tests.modules.proxy.helpers import closed_port
from tests.security.secrets_app import create_app

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.nats]

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests.security.secrets_app:create_app"

SECRETS = {
    "directory (proxy header)": "dirProxy+/=Hdr-Jn58Qa",
    "yaml (database dsn)": "yamlPw-Kq7Lm2Xv9Rt4",
    "yaml (own section)": 'baseVault+/="b"&-Gg73',
    "toml (jwt hs key)": 'tomlHs+/"key" & \\ a key of 48 bytes, Zx81-padding!',
    "toml (event sink url)": "tomlSinkUrlTok-Lp39Fe",
    "toml (event sink header)": 'tomlSinkHdr+/="h"&-Qw62',
    "json (api key)": 'pmk_json+/"k"&\\-Wd51JmQ8',
    "dotenv (redis url)": "dotenvRedisPw-Hb62Ny",
    "env (broker password)": "envNatsPw-Tc93Gw",
    "file (admin token)": 'fileAdmin+/=Tok-Pz44Ve&"q"',
    "reference (client token)": 'refClient+/=Tok-Rr27&"x"',
    "tenant (own section)": 'tenantVault+/="t"&-Mm16',
    "reload (own section)": 'reloadVault+/="r"&-Ss38',
}


def encodings(secret: str) -> set[str]:
    """The secret as text may carry it: raw, base64 (standard and URL-safe, padded or
    not), URL-encoded and JSON-escaped."""
    raw = secret.encode()
    forms = {
        secret,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
    }
    return {form for form in forms if len(form) >= 8}


def write_sources(
    root: Path, upstream_port: int, client_port: int, bus: NatsKit, sink_port: int
) -> dict[str, str]:
    """Every configuration file of the application under ``root``; the environment to add."""
    s = SECRETS
    bearer = "Bearer " + s["directory (proxy header)"]
    hs_key = json.dumps(s["toml (jwt hs key)"])
    (root / "settings/base").mkdir(parents=True)
    (root / "settings/environments/test").mkdir(parents=True)
    (root / "settings/base/default.yaml").write_text(
        "proxy:\n"
        "  upstreams:\n"
        f"    backend: {{targets: ['http://127.0.0.1:{upstream_port}']}}\n"
        "  routes:\n"
        "    - path: /api\n"
        "      upstream: backend\n"
        f"      set_headers: {{authorization: {json.dumps(bearer)}}}\n"
    )
    (root / "settings/environments/test/overrides.yaml").write_text("{}\n")
    (root / "config.yaml").write_text(
        "httpserver: {host: 127.0.0.1, port: 0}\n"
        "database:\n"
        "  default:\n"
        f"    dsn: postgresql://postgres:{s['yaml (database dsn)']}@127.0.0.1:5432/test\n"
        "eventbus:\n"
        "  engines:\n"
        f"    broker: {{type: nats, url: 'nats://probe@127.0.0.1:4222', stream: {bus.stream},\n"
        f"             subject_prefix: t{bus.token}, storage: memory}}\n"
        "  default_engine: broker\n"
        "httpclient:\n"
        "  default:\n"
        f"    base_url: http://127.0.0.1:{client_port}\n"
        "    auth_token: ${env:CLIENT_TOKEN}\n"
        "    logging: {level: body}\n"
        "    retries: {max_attempts: 1}\n"
        "tracing: {exporter: memory, sample_ratio: 1.0}\n"
        "metrics: {}\n"
        f"vault: {{api_secret: {json.dumps(s['yaml (own section)'])}}}\n"
    )
    (root / "config.toml").write_text(
        f'[[auth.jwt.keys]]\nkid = "main"\nalg = "HS256"\nsecret = {hs_key}\n'
        "[[eventlogger.outputs]]\n"
        'type = "cloudevents"\n'
        f'url = "http://127.0.0.1:{sink_port}/ingest?token={s["toml (event sink url)"]}"\n'
        "retries = 0\n"
        "timeout = 1.0\n"
        f"headers = {{authorization = {json.dumps(s['toml (event sink header)'])}}}\n"
        "[[eventlogger.outputs]]\n"
        'type = "file"\n'
        'path = "events.log"\n'
    )
    (root / "config.json").write_text(
        json.dumps(
            {
                "auth": {"api_keys": {"keys": [{"id": "ci", "key": s["json (api key)"]}]}},
                "admin": {"enabled": True},
            }
        )
    )
    (root / ".env").write_text(
        "APP_CACHE__BACKEND=redis\n"
        f"APP_CACHE__REDIS__URL=redis://:{s['dotenv (redis url)']}@127.0.0.1:6379/0\n"
    )
    (root / "admin_token").write_text(s["file (admin token)"] + "\n")
    (root / "tenants").mkdir()
    (root / "tenants/acme.yaml").write_text(
        f"vault: {{api_secret: {json.dumps(s['tenant (own section)'])}}}\n"
    )
    return {
        "APP_EVENTBUS__ENGINES__BROKER__PASSWORD": s["env (broker password)"],
        "APP_ADMIN__TOKEN_FILE": str(root / "admin_token"),
        "CLIENT_TOKEN": s["reference (client token)"],
    }


class Everything(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


THIRD_PARTY = (
    "httpx",
    "httpcore",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "asyncpg",
    "aio_pika",
    "aiormq",
    "nats",
    "redis",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "pymodular",
)


@pytest.fixture
def every_log_record() -> Iterator[Everything]:
    """Every logger at DEBUG into one handler on the root (restored afterwards)."""
    root = logging.getLogger()
    handler = Everything()
    loggers = [root, *(logging.getLogger(name) for name in THIRD_PARTY)]
    levels = [(logger, logger.level, logger.propagate) for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.propagate = logger is not root or logger.propagate
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level, propagate in levels:
            logger.setLevel(level)
            logger.propagate = propagate


async def cli(*args: str, env: dict[str, str], cwd: Path) -> str:
    """Run ``python -m pymodular ARGS``; its output and its errors."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pymodular",
        *args,
        cwd=cwd,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return f"$ pymodular {' '.join(args)} -> {process.returncode}\n{out.decode()}\n{err.decode()}"


def leaks(texts: dict[str, str]) -> dict[str, list[str]]:
    """For each place, the secrets (by source) found in it in any encoding."""
    found: dict[str, list[str]] = {}
    for where, text in texts.items():
        for source, secret in SECRETS.items():
            if any(form in text for form in encodings(secret)):
                found.setdefault(where, []).append(source)
    return found


@pytest.mark.timeout(180)  # four CLI processes and a full application, on a loaded machine
async def test_secrets_from_every_source_never_show_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every_log_record: Everything
) -> None:
    bus = NatsKit("nats")
    env = write_sources(tmp_path, closed_port(), closed_port(), bus, closed_port())
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    texts: dict[str, str] = {}
    app = create_app()
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="recorder")
    admin = {"Authorization": f"Bearer {SECRETS['file (admin token)']}"}
    jwt = JwtKey.hmac(SECRETS["toml (jwt hs key)"], kid="main", alg="HS256")
    good_token = jwt.sign({"alg": "HS256", "kid": "main"}, {"sub": "ada", "exp": 4_000_000_000})
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(bus.cleanup)
        await stack.enter_async_context(app)
        url = app.services.get(HttpServer).url
        requests: list[tuple[str, str, dict[str, str]]] = [
            ("GET", path, {})
            for path in (
                "/openapi.json",
                "/health",
                "/healthz",
                "/readyz",
                "/metrics",
                "/nope",
                "/probe/database",
                "/probe/cache",
                "/probe/publish",
                "/probe/client",
                "/probe/boom",
                "/probe/me",
                "/api/x?token=abc",
                "/_admin/inspect",
            )
        ]
        requests += [
            ("GET", "/probe/me", {"X-API-Key": SECRETS["json (api key)"]}),
            ("GET", "/probe/me", {"Authorization": f"Bearer {good_token}"}),
            ("GET", "/probe/me", {"Authorization": f"Bearer {good_token}x"}),
            ("GET", "/probe/me", {"X-API-Key": SECRETS["json (api key)"] + "x"}),
        ]
        requests += [
            ("GET", f"/_admin/{path}", admin)
            for path in ("inspect", "config", "health", "events?limit=100", "loggers/root")
        ]
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            statuses = []
            for index, (method, path, headers) in enumerate(requests):
                answer = await http.request(method, path, headers=headers)
                statuses.append(answer.status_code)
                texts[f"HTTP #{index} {method} {path} {sorted(headers)}"] = (
                    f"{answer.status_code} {answer.headers}\n{answer.text}"
                )
            remote = {"PYMODULAR_ADMIN_TOKEN": SECRETS["file (admin token)"]}
            for args in (
                ("inspect", "--url", f"{url}/_admin"),
                ("inspect", "--url", f"{url}/_admin", "-f", "json"),
                ("config", "check", "--url", f"{url}/_admin"),
                ("config", "check", "--url", f"{url}/_admin", "-f", "json"),
            ):
                texts[" ".join(args)] = await cli(*args, env=remote, cwd=tmp_path)
            # A dynamic change is applied; a secret's change (restart required) is refused.
            config = tmp_path / "config.yaml"
            original = config.read_text()
            config.write_text(original.replace("vault: {", "vault: {region: us, "))
            texts["reload applied"] = repr(await app.reload())
            config.write_text(
                original.replace(
                    json.dumps(SECRETS["yaml (own section)"]),
                    json.dumps(SECRETS["reload (own section)"]),
                )
            )
            try:
                texts["reload refused"] = repr(await app.reload())
            except PymodularError as error:
                texts["reload refused"] = "".join(traceback.format_exception(error))
            texts["inspect"] = json.dumps(app.inspect(), default=str)
            texts["inspect repr"] = repr(app.inspect())
        spans = app.services.get(Tracing).finished_spans()
    status = {
        (path, tuple(headers)): code
        for (_, path, headers), code in zip(requests, statuses, strict=True)
    }
    assert statuses[14:18] == [200, 200, 401, 401]  # the secrets were really used
    assert status[("/_admin/config", ("Authorization",))] == 200
    assert status[("/_admin/inspect", ())] == 401
    assert status[("/probe/database", ())] == 200
    assert status[("/probe/publish", ())] == 200
    assert status[("/probe/boom", ())] == 500
    assert status[("/api/x?token=abc", ())] == 502
    for args in (
        ("config", "check", TARGET),
        ("config", "check", TARGET, "-f", "json"),
        ("inspect", TARGET),
        ("inspect", TARGET, "-f", "json"),
    ):
        texts[" ".join(args)] = await cli(*args, env=env, cwd=tmp_path)
    texts["logs"] = "\n".join(every_log_record.lines)
    texts["event log file"] = (tmp_path / "events.log").read_text()
    texts["events"] = "\n".join(
        f"{e.type} {json.dumps(e.data, default=repr)} {e!r}" for e in recorder.events
    )
    texts["spans"] = "\n".join(
        f"{s.name} {dict(s.attributes or {})} {s.status.description} "
        f"{[(e.name, dict(e.attributes or {})) for e in s.events]}"
        for s in spans
    )
    assert spans, "the memory exporter recorded no span"
    assert "config.reload" in texts["event log file"]
    assert "sqlalchemy" in texts["logs"]
    assert "httpcore" in texts["logs"]
    found = leaks(texts)
    assert found == {}, json.dumps(found, indent=1)


REFUSED = {
    "rabbitmq url": "rabbitUrlPw-Vd82Kx",
    "rabbitmq password": 'rabbitFieldPw+/="p"&-Yt47',
}


@pytest.mark.rabbitmq
async def test_a_broker_refusing_the_password_fails_the_start_without_showing_it(
    every_log_record: Everything,
) -> None:
    """RabbitMQ refuses both passwords (aio_pika and aiormq log at DEBUG); the failed
    start's error chain, traceback, events and every log line hold neither. (The
    ``username``/``password`` fields were once ignored: aio-pika drops its login
    arguments when given a URL, so the engine connected as ``guest``.)"""
    from pymodular import Application
    from pymodular.config.feeders import DictFeeder
    from pymodular.modules.eventbus import EventBusModule

    engine = RabbitMqKit("rabbitmq").engine_config(connect_timeout=5.0)
    texts: dict[str, str] = {}
    for name, overrides in {
        "url": {"url": f"amqp://guest:{REFUSED['rabbitmq url']}@127.0.0.1:5672/"},
        "field": {"username": "guest", "password": REFUSED["rabbitmq password"]},
    }.items():
        broker = {**engine, **overrides}
        config = {"eventbus": {"engines": {"broker": broker}, "default_engine": "broker"}}
        app = Application([EventBusModule()], feeders=[DictFeeder(config)])
        recorder = EventRecorder()
        app.events.subscribe(recorder, name="recorder")
        with pytest.raises(PymodularError) as caught:
            await app.start()
        await app.stop()
        await app.events.flush()
        texts[f"{name}: error"] = "".join(traceback.format_exception(caught.value))
        texts[f"{name}: events"] = "\n".join(
            f"{e.type} {json.dumps(e.data, default=repr)}" for e in recorder.events
        )
        texts[f"{name}: inspect"] = json.dumps(app.inspect(), default=str)
    good = {**engine, "username": "guest", "password": "guest"}
    config = {"eventbus": {"engines": {"broker": good}, "default_engine": "broker"}}
    try:
        async with Application([EventBusModule()], feeders=[DictFeeder(config)]):
            pass  # the right password in the fields connects
    finally:
        forget_secret("guest")  # registered by the configuration; other tests print it
    texts["logs"] = "\n".join(every_log_record.lines)
    assert "could not connect" in texts["url: error"]
    assert "could not connect" in texts["field: error"]
    assert "aiormq" in texts["logs"] or "aio_pika" in texts["logs"]
    found = {
        where: [
            source
            for source, secret in REFUSED.items()
            if any(f in text for f in encodings(secret))
        ]
        for where, text in texts.items()
    }
    assert {where: hit for where, hit in found.items() if hit} == {}
