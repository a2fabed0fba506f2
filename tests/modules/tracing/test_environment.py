"""OpenTelemetry's ``OTEL_EXPORTER_OTLP_*`` variables as defaults the ``tracing`` section
overrides: precedence, where each setting came from, and clear errors for bad values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymodular.errors import ConfigError, LifecycleError
from pymodular.modules.tracing import Tracing, TracingModule
from pymodular.modules.tracing._settings import otlp_settings
from pymodular.modules.tracing.config import OtlpConfig
from pymodular.secrets import forget_secret, redact
from pymodular.testing import app_harness
from tests._receiver import Receiver, otlp_receiving
from tests.modules.tracing.test_transport import names

TOKEN = "env-otlp-token-3b4c5d6e"


@pytest.fixture
def collector() -> Iterator[Receiver]:
    with otlp_receiving("/v1/traces", b"") as running:
        yield running


@pytest.fixture(autouse=True)
def forget_tokens() -> Iterator[None]:
    """Header values read from the environment are registered secrets: forgotten after."""
    yield
    for value in (TOKEN, f"Bearer {TOKEN}", "shop", "k", "1"):
        forget_secret(value)


def settings(otlp: dict[str, Any] | None = None, **environ: str) -> Any:
    return otlp_settings(OtlpConfig.model_validate(otlp or {}), environ)


def test_without_variables_the_section_and_its_defaults_apply() -> None:
    got = settings()
    assert (got.endpoint, got.headers, got.timeout, got.compression) == (
        "http://127.0.0.1:4318/v1/traces",
        {},
        10.0,
        "gzip",
    )
    assert (got.certificate, got.client_certificate, got.client_key) == (None, None, None)
    assert set(got.sources.values()) == {"default"}


def test_the_general_endpoint_gets_the_traces_path_and_the_signals_own_wins() -> None:
    general = settings(OTEL_EXPORTER_OTLP_ENDPOINT="https://collector:4318/")
    assert general.endpoint == "https://collector:4318/v1/traces"
    assert general.sources["endpoint"] == "env OTEL_EXPORTER_OTLP_ENDPOINT"
    both = settings(
        OTEL_EXPORTER_OTLP_ENDPOINT="https://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="https://traces:4318/custom/path",
    )
    assert both.endpoint == "https://traces:4318/custom/path"  # used as it is
    assert both.sources["endpoint"] == "env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"


def test_every_variable_is_read_and_the_section_overrides_each() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{TOKEN}, x-tenant = shop ",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2.5",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "NONE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": "/env/ca.pem",
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": "/env/client.pem",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/env/client.key",
    }
    got = settings(**environ)
    assert got.endpoint == "http://env:4318/v1/traces"
    assert got.headers == {"authorization": f"Bearer {TOKEN}", "x-tenant": "shop"}
    assert (got.timeout, got.compression) == (2.5, "none")
    assert (got.certificate, got.client_certificate, got.client_key) == (
        "/env/ca.pem",
        "/env/client.pem",
        "/env/client.key",
    )
    assert got.sources["timeout"] == "env OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
    assert got.sources["client_key"] == "env OTEL_EXPORTER_OTLP_CLIENT_KEY"
    assert TOKEN not in repr(got)  # the headers and the key's password are left out
    assert redact(f"token={TOKEN}") == "token=**********"  # registered, as a Secret is
    section = {
        "endpoint": "http://section:4318/v1/traces",
        "headers": {"x-api-key": "k"},
        "timeout": 4.0,
        "compression": "gzip",
        "certificate": "/section/ca.pem",
        "client_certificate": "/section/client.pem",
        "client_key": "/section/client.key",
    }
    explicit = settings(section, **environ)
    assert explicit.endpoint == section["endpoint"]
    assert explicit.headers == {"x-api-key": "k"}  # the section's headers replace them all
    assert (explicit.timeout, explicit.compression, explicit.certificate) == (
        4.0,
        "gzip",
        "/section/ca.pem",
    )
    assert explicit.sources == {name: f"tracing.otlp.{name}" for name in section}
    only_timeout = settings({"timeout": 1.0}, **environ)
    assert only_timeout.endpoint == "http://env:4318/v1/traces"  # the rest still from env
    assert only_timeout.sources["timeout"] == "tracing.otlp.timeout"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1", "OTEL_EXPORTER_OTLP_TIMEOUT must be a positive"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon", "must be a positive number of seconds"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "inf", "OTEL_EXPORTER_OTLP_TIMEOUT must be a positive"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli", "must be gzip or none, not 'brotli'"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318", "must be an http:// or https"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector", "OTEL_EXPORTER_OTLP_ENDPOINT must be"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/k.pem", "go together"),
    ],
)
def test_a_bad_value_is_a_configuration_error_naming_the_variable(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        settings(**{variable: value})


@pytest.mark.parametrize(
    "headers",
    [
        f"authorization Bearer {TOKEN}",  # no '='
        f"=Bearer {TOKEN}",  # no name
        f"x-ok=1,bad name={TOKEN}",  # not a header name
        f"authorization=Bearer%0a{TOKEN}",  # a control character
        f"x-ok=1,{TOKEN}",
    ],
)
def test_unparseable_headers_are_refused_without_echoing_a_value(headers: str) -> None:
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_TRACES_HEADERS") as refused:
        settings(OTEL_EXPORTER_OTLP_TRACES_HEADERS=headers)
    assert TOKEN not in str(refused.value)
    assert TOKEN not in repr(refused.value.__dict__)


async def test_the_module_exports_where_the_variables_say_and_inspect_shows_why(
    collector: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = collector.url.removesuffix("/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer {TOKEN}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3")
    config: dict[str, Any] = {"tracing": {"sample_ratio": 1.0, "lifecycle": False}}
    async with app_harness([TracingModule()], config=config) as (app, _events):
        with app.services.get(Tracing).span("order"):
            pass
        described = app.inspect()["tracing"]
    assert names(collector) == ["order"]
    assert collector.requests[0][0]["authorization"] == f"Bearer {TOKEN}"
    otlp = described["otlp"]
    assert described["endpoint"] == otlp["endpoint"] == collector.url
    assert otlp["headers"] == ["authorization"]
    assert otlp["timeout"] == 3.0
    assert otlp["from"] == {
        "endpoint": "env OTEL_EXPORTER_OTLP_ENDPOINT",
        "headers": "env OTEL_EXPORTER_OTLP_HEADERS",
        "timeout": "env OTEL_EXPORTER_OTLP_TIMEOUT",
        "compression": "default",
        "certificate": "default",
        "client_certificate": "default",
        "client_key": "default",
    }
    assert TOKEN not in repr(described)


async def test_a_password_in_the_endpoint_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://user:{TOKEN}@127.0.0.1:9/x")
    config = {"tracing": {"lifecycle": False, "sample_ratio": 0.0}}
    async with app_harness([TracingModule()], config=config) as (app, _events):
        described = app.inspect()["tracing"]
        shown = repr(app.services.get(Tracing).exporter)
    assert described["endpoint"] == described["otlp"]["endpoint"]
    assert described["endpoint"].startswith("http://user:")
    for text in (repr(described), shown):
        assert TOKEN not in text


async def test_a_bad_variable_stops_the_start_with_its_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization:{TOKEN}")
    with pytest.raises(LifecycleError) as refused:
        async with app_harness([TracingModule()], config={"tracing": {}}):
            pass
    assert isinstance(refused.value.__cause__, ConfigError)
    assert "OTEL_EXPORTER_OTLP_HEADERS: entry 1" in str(refused.value)
    assert TOKEN not in str(refused.value)
    # the section wins: the same variable does not matter once headers are configured
    config = {"tracing": {"otlp": {"headers": {}}, "lifecycle": False, "sample_ratio": 0.0}}
    async with app_harness([TracingModule()], config=config) as (app, _events):
        assert app.inspect()["tracing"]["otlp"]["from"]["headers"] == "tracing.otlp.headers"
