"""Components attach one way, to the host protocol, and meet only through capabilities."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pymodular import Application, LifecycleError, Module, StopStage
from pymodular.health import HealthResult
from pymodular.host import Component, Host
from pymodular.reload import ReloadOptions
from pymodular.secrets import forget_secret
from pymodular.tenancy import TenancyOptions
from pymodular.testing import app_harness, reload_config


class Clock(Module[None]):
    name = "clock"

    async def stop(self) -> None: ...


class Probe:
    """A component with every capability, recording what the host did with it."""

    name = "probe"
    health_entry = "probe-entry"
    health_optional = True

    def __init__(self, trees: list[Path] | None = None) -> None:
        self.host: Host | None = None
        self.seen: list[str] = []
        self.trees = trees or []

    def attach(self, host: Host) -> None:
        self.host = host
        host.on_started(self._started)
        host.on_stopping(self._readiness, stage=StopStage.READINESS)

    async def _started(self) -> None:
        assert self.host is not None
        self.seen.append(f"started: {[r.name for r in self.host.started_records()]}")

    async def _readiness(self) -> None:
        assert self.host is not None
        self.seen.append(f"stopping while {self.host.state}")

    def describe(self) -> dict[str, Any]:
        return {"seen": len(self.seen)}

    def health_report(self) -> HealthResult:
        return HealthResult.degraded("probing")

    async def on_config_reloaded(self) -> None:
        self.seen.append("config reloaded")

    def watch_trees(self) -> list[Path]:
        return self.trees


def test_a_component_is_recognised_by_its_shape() -> None:
    assert isinstance(Probe(), Component)
    assert not isinstance(object(), Component)


async def test_an_attached_component_joins_the_lifecycle_inspect_and_health() -> None:
    probe = Probe()
    async with app_harness([Clock()], health=True, components=[probe]) as (app, _):
        assert probe.seen == ["started: ['clock']"]
        assert app.inspect()["probe"] == {"seen": 1}
        assert app.health is not None
        entry = (await app.health.evaluate()).module("probe-entry")
        assert (entry.status.value, entry.optional) == ("degraded", True)
    assert probe.seen[-1] == "stopping while draining"


async def test_health_finds_reporters_whatever_order_components_attach_in() -> None:
    # The reloader and the tenant registry report health; neither needs the
    # aggregator to exist when it attaches, nor the other way round.
    options = TenancyOptions(environ={})
    for components in ([Probe()], []):
        app = Application(
            [Clock()], health=True, dynamic_reload=True, tenancy=options, components=components
        )
        async with app:
            assert app.health is not None
            names = [entry.name for entry in (await app.health.evaluate()).modules]
        expected = ["clock", "tenants", "config-reload", *(["probe-entry"] if components else [])]
        assert names == expected


async def test_followers_rebuild_after_a_reload_through_the_host() -> None:
    probe = Probe()
    harness = app_harness([Clock()], config={}, dynamic_reload=True, components=[probe])
    async with harness as (app, _):
        await reload_config(app, {})
    assert "config reloaded" in probe.seen


async def test_the_watcher_watches_the_trees_components_name(tmp_path: Path) -> None:
    pytest.importorskip("watchfiles")
    probe = Probe([tmp_path / "extra"])
    app = Application(dynamic_reload=ReloadOptions(watch=True), components=[probe])
    async with app:
        assert str(tmp_path / "extra") + "/" in app.inspect()["reload"]["watching"]


def test_two_components_may_not_share_a_name() -> None:
    with pytest.raises(ValueError, match="'probe' is already attached"):
        Application(components=[Probe(), Probe()])


def test_what_is_not_a_component_is_refused() -> None:
    with pytest.raises(TypeError, match="is not a component"):
        Application(components=[object()])  # type: ignore[list-item]


async def test_a_failing_stopping_hook_of_a_component_is_reported_with_the_stop() -> None:
    class Broken(Probe):
        async def _readiness(self) -> None:
            raise RuntimeError("no readiness today")

    app = Application([Clock()], components=[Broken()])
    await app.start()
    with pytest.raises(LifecycleError, match="no readiness today"):
        await app.stop()
    assert app.state == "stopped"


async def test_reprs_show_state_and_counts_never_values() -> None:
    from pymodular.config import ConfigModel, Secret, field

    class VaultConfig(ConfigModel):
        token: Secret[str] = field(description="vault token")

    class Vault(Module[VaultConfig]):
        name = "vault"

    secret = "s3cr3t-value-0123456789"
    harness = app_harness(
        [Vault()],
        config={"vault": {"token": secret}},
        name="shop",
        health=True,
        dynamic_reload=True,
        tenancy=TenancyOptions(tenants={"acme": {}}, environ={}),
    )
    async with harness as (app, _):
        assert app.health is not None
        await app.health.evaluate()
        shown = {
            "app": repr(app),
            "services": repr(app.services),
            "config": repr(app.config),
            "tenants": repr(app.tenants),
            "health": repr(app.health),
            "reloader": repr(app._reloader),
        }
    assert shown == {
        "app": "<Application('shop', state=running, modules=1, services=1, "
        "components=[tenants, health, reload])>",
        "services": "<ServiceRegistry(num_services=1)>",
        "config": "<Configuration(sections=1, generation=1, feeders=[dict])>",
        "tenants": "<TenantRegistry(tenants=1, active=1, guard=strict, loaded=True)>",
        "health": shown["health"],
        "reloader": "<Reloader(reloads=0, last=none, breaker=closed)>",
    }
    assert re.fullmatch(
        r"<HealthAggregator\(overall=healthy, readiness=healthy, cycles=\d+, "
        r"extra_reporters=0\)>",
        shown["health"],
    )
    assert not any(secret in text for text in shown.values())
    forget_secret(secret)
