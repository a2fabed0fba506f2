"""DirectoryFeeder: base/default.* deep-merged with environments/<env>/overrides.* (FR-041)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pymodular.config import ConfigModel, Configuration, SectionSpec, field
from pymodular.config.feeders import DirectoryFeeder
from pymodular.errors import ConfigError


class Server(ConfigModel):
    host: str = "localhost"
    port: int = 8080
    timeout: int = 30
    tags: list[str] = field(default_factory=list)


SPECS = [SectionSpec("server", Server)]


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "default.yaml").write_text(
        "server:\n  host: base.local\n  port: 80\n  tags: [a, b]\n", encoding="utf-8"
    )
    prod = tmp_path / "environments" / "prod"
    prod.mkdir(parents=True)
    (prod / "overrides.toml").write_text('[server]\nport = 443\ntags = ["p"]\n', encoding="utf-8")
    (tmp_path / "environments" / "dev").mkdir()
    return tmp_path


def test_overrides_deep_merge_over_the_base(layout: Path) -> None:
    config = Configuration([DirectoryFeeder(layout, "prod")])
    server = config.load(SPECS).section("server")
    assert (server.host, server.port, server.timeout, server.tags) == ("base.local", 443, 30, ["p"])
    record = config.provenance("server.port")
    assert record.source.location == f"{layout / 'environments/prod/overrides.toml'}:2"
    assert record.overrode[0].source.location == f"{layout / 'base/default.yaml'}:3"


def test_environment_comes_from_the_environment_variables(layout: Path) -> None:
    feeder = DirectoryFeeder(layout, environ={"ENVIRONMENT": "prod", "ENV": "dev"})
    assert feeder.selected_environment() == "prod"
    assert Configuration([feeder]).load(SPECS).section("server").port == 443


def test_without_an_environment_only_the_base_is_read(layout: Path) -> None:
    snapshot = Configuration([DirectoryFeeder(layout, environ={})]).load(SPECS)
    assert snapshot.section("server").port == 80
    assert ("directory", "no environment selected; base only") in snapshot.skipped


def test_environment_without_overrides_file_is_skipped(layout: Path) -> None:
    snapshot = Configuration([DirectoryFeeder(layout, "dev")]).load(SPECS)
    assert snapshot.section("server").port == 80
    assert snapshot.skipped[0][1].endswith("has no overrides.*")


def test_unknown_environment_is_an_error_listing_the_known_ones(layout: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'prdo'.*known: dev, prod"):
        Configuration([DirectoryFeeder(layout, "prdo")]).load(SPECS)


def test_missing_base_fails_when_required_and_is_skipped_otherwise(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"base/default\.yaml does not exist"):
        Configuration([DirectoryFeeder(tmp_path, environ={})]).load(SPECS)
    snapshot = Configuration([DirectoryFeeder(tmp_path, environ={}, required=False)]).load(SPECS)
    assert snapshot.section("server").port == 8080


@pytest.mark.parametrize("hostile", ["../environments/prod", "..", "prod/../../etc", "/etc", "a b"])
def test_an_environment_that_is_not_a_plain_name_is_refused(layout: Path, hostile: str) -> None:
    with pytest.raises(ConfigError, match="is not a plain name"):
        Configuration([DirectoryFeeder(layout, environ={"ENV": hostile})]).load(SPECS)
