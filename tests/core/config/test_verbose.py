"""Verbose configuration: per field, where it was looked for and which source won; no values."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pymodular import Application, Instances, Module
from pymodular.config import ConfigModel, Configuration, Secret, SectionSpec, field
from pymodular.config.feeders import EnvFeeder, YamlFeeder
from pymodular.secrets import forget_secret
from pymodular.tenancy import TenancyOptions
from tests.core.tenancy.support import StoreModule


class ApiConfig(ConfigModel):
    url: str = field("http://127.0.0.1", description="where")
    token: Secret[str] | None = field(None, description="credential")


def lines(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    found = {}
    for record in caplog.records:
        message = record.getMessage()
        if record.name == "pymodular.config" and message.startswith("config lookup "):
            path = message.removeprefix("config lookup ").split(" ", 1)[0].split(":")[0]
            found[path] = message
    return found


def test_each_field_lists_the_names_tried_and_the_winner_but_never_a_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-very-secret-0042"
    (tmp_path / "config.yaml").write_text("api:\n  url: http://yaml.example\n")
    environ = {"APP_API_TOKEN": token}
    config = Configuration(
        [YamlFeeder(tmp_path / "config.yaml"), EnvFeeder("APP_", environ=environ)], verbose=True
    )
    caplog.set_level(logging.INFO, logger="pymodular.config")
    try:
        config.load([SectionSpec("api", ApiConfig)])
        found = lines(caplog)
    finally:
        forget_secret(token)
    url, secret = found["api.url"], found["api.token"]
    assert "yaml [api.url]: " in url
    assert "config.yaml" in url
    assert "env [APP_API__URL, APP_API_URL, APP_API__URL_FILE, APP_API_URL_FILE]: not set" in url
    assert url.endswith("-> in force: " + str(config.provenance("api.url").source))
    assert "api.token (secret)" in secret
    assert "env APP_API_TOKEN" in secret
    assert "yaml [api.token]: not set" in secret
    assert token not in caplog.text
    assert "http://yaml.example" not in caplog.text  # no values at all


def test_instance_aware_sections_show_the_instance_names_tried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Clients(Module[Instances[ApiConfig]]):
        name = "clients"

    environ = {"APP_CLIENTS_GITHUB_URL": "https://api.github.com"}
    feeders = [EnvFeeder("APP_", environ=environ)]
    app = Application([Clients()], feeders=feeders, verbose_config=True)
    caplog.set_level(logging.INFO, logger="pymodular.config")
    app.config.load([SectionSpec("clients", ApiConfig, instance_aware=True)])
    line = lines(caplog)["clients.github.url"]
    assert "APP_CLIENTS_GITHUB_URL" in line
    assert "in force: env APP_CLIENTS_GITHUB_URL" in line


def test_it_is_quiet_unless_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pymodular.config")
    Configuration([EnvFeeder("APP_", environ={})]).load([SectionSpec("api", ApiConfig)])
    assert lines(caplog) == {}


async def test_tenant_variables_show_the_names_tried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "acme.yaml").write_text("store:\n  pool: 7\n")
    app = Application(
        [StoreModule()],
        feeders=[EnvFeeder("APP_", environ={"APP_STORE_POOL": "4"})],
        verbose_config=True,
        tenancy=TenancyOptions(
            directories=[tenants], environ={"TENANT_ACME_STORE_DSN": "pg://acme-db"}
        ),
    )
    caplog.set_level(logging.INFO, logger="pymodular.config")
    await app.start()
    try:
        prefix = "config lookup (tenant 'acme') "
        found = {
            message.removeprefix(prefix).split(" ", 1)[0].split(":")[0]: message
            for record in caplog.records
            if (message := record.getMessage()).startswith(prefix)
        }
    finally:
        await app.stop()
    dsn, pool = found["store.dsn"], found["store.pool"]
    assert "env [APP_STORE__DSN, APP_STORE_DSN, APP_STORE__DSN_FILE, APP_STORE_DSN_FILE]" in dsn
    assert (
        "tenant-env [TENANT_ACME_STORE__DSN, TENANT_ACME_STORE_DSN, "
        "TENANT_ACME_STORE__DSN_FILE, TENANT_ACME_STORE_DSN_FILE]: env TENANT_ACME_STORE_DSN"
    ) in dsn
    assert dsn.endswith("-> in force: env TENANT_ACME_STORE_DSN")
    assert "env [APP_STORE__POOL, APP_STORE_POOL" in pool
    assert ": env APP_STORE_POOL" in pool  # the base value, overridden by the tenant's file
    assert "tenant-file [store.pool]: " in pool
    assert "acme.yaml" in pool.rsplit("-> in force: ", 1)[1]
    assert "store.password (secret)" in found["store.password"]
    assert "pg://acme-db" not in caplog.text  # names and sources only, never a value
