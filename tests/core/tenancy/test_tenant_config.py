"""Tenant configuration (FR-038, FR-041): files, variables, code; layering and provenance."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from pymodular import Application, Module
from pymodular.config import ConfigModel, field
from pymodular.config.feeders import DictFeeder, EnvFeeder, YamlFeeder
from pymodular.tenancy import TenancyOptions, TenantContextError, TenantStatus
from pymodular.testing import EventRecorder
from tests.core.tenancy.support import BASE_PASSWORD, StoreModule


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def start(
    tmp_path: Path,
    *,
    modules: list[Module[Any]] | None = None,
    base: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    directories: list[Path] | None = None,
    strict_config: bool = True,
    **options: Any,
) -> Application:
    app = Application(
        modules if modules is not None else [StoreModule()],
        feeders=[DictFeeder(base or {"store": {"dsn": "sqlite://base", "pool": 4}})],
        strict_config=strict_config,
        tenancy=TenancyOptions(
            directories=directories if directories is not None else [tmp_path / "tenants"],
            environ=environ or {},
            **options,
        ),
    )
    await app.start()
    return app


async def test_one_file_per_tenant_in_every_supported_format(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    write(tenants, "acme.yaml", "store:\n  dsn: pg://acme\n")
    write(tenants, "globex.yml", "store:\n  pool: 9\n")
    write(tenants, "initech.json", '{"store": {"dsn": "pg://initech"}}')
    write(tenants, "umbrella.toml", '[store]\ndsn = "pg://umbrella"\n')
    write(tenants, "README.md", "not a tenant")
    write(tenants, ".hidden.yaml", "store: {dsn: nope}")
    app = await start(tmp_path)
    assert sorted(app.tenants) == ["acme", "globex", "initech", "umbrella"]
    got = {t: app.tenants.section("store", tenant=t) for t in sorted(app.tenants)}
    assert {t: (s.dsn, s.pool) for t, s in got.items()} == {
        "acme": ("pg://acme", 4),
        "globex": ("sqlite://base", 9),
        "initech": ("pg://initech", 4),
        "umbrella": ("pg://umbrella", 4),
    }
    assert app.tenants.problems() == []
    await app.stop()


async def test_provenance_names_the_tenant_file_line_and_what_it_overrode(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "acme.yaml", "# acme\nstore:\n  pool: 12\n")
    app = await start(tmp_path)
    pool = app.tenants.provenance("store.pool", tenant="acme")
    assert pool.source.location == f"{tmp_path / 'tenants' / 'acme.yaml'}:3"
    assert pool.source.feeder == "tenant-file"
    assert [o.value for o in pool.overrode] == [4]
    dsn = app.tenants.provenance("store.dsn", tenant="acme")
    assert dsn.source.location == "programmatic"  # untouched base value keeps its source
    await app.stop()


async def test_tenant_affixed_variables_override_the_tenant_file(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "acme.yaml", "store:\n  pool: 12\n  dsn: pg://file\n")
    environ = {"TENANT_ACME_STORE__POOL": "20", "APP_STORE__POOL": "99"}
    app = await start(tmp_path, environ=environ)
    section = app.tenants.section("store", tenant="acme")
    assert (section.pool, section.dsn) == (20, "pg://file")
    source = app.tenants.provenance("store.pool", tenant="acme").source
    assert (source.location, source.feeder) == ("env TENANT_ACME_STORE__POOL", "tenant-env")
    assert app.tenants.get("acme").sources[-1] == "environment (1 variables)"
    await app.stop()


async def test_variables_alone_register_a_tenant_with_underscored_ids(tmp_path: Path) -> None:
    environ = {
        "TENANT_ACME_CORP_STORE__DSN": "pg://acme-corp",
        "TENANT_GLOBEX_STORE_POOL": "3",
        "TENANT_NOTHING_HERE": "ignored: names no section",
    }
    app = await start(tmp_path, environ=environ, directories_required=False)
    assert sorted(app.tenants) == ["acme_corp", "globex"]
    assert app.tenants.section("store", tenant="acme_corp").dsn == "pg://acme-corp"
    assert app.tenants.section("store", tenant="globex").pool == 3
    await app.stop()


async def test_variables_attach_to_known_tenants_whose_ids_have_dashes(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "acme-eu.yaml", "store: {pool: 1}\n")
    app = await start(tmp_path, environ={"TENANT_ACME_EU_STORE__POOL": "2"})
    assert list(app.tenants) == ["acme-eu"]
    assert app.tenants.section("store", tenant="acme-eu").pool == 2
    await app.stop()


async def test_env_discovery_and_variables_can_be_turned_off(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "acme.yaml", "store: {pool: 1}\n")
    environ = {"TENANT_GLOBEX_STORE__POOL": "3", "TENANT_ACME_STORE__POOL": "2"}
    quiet = await start(tmp_path, environ=environ, discover_env=False)
    assert list(quiet.tenants) == ["acme"]
    assert quiet.tenants.section("store", tenant="acme").pool == 2
    await quiet.stop()
    off = await start(tmp_path, environ=environ, env_prefix=None)
    assert off.tenants.section("store", tenant="acme").pool == 1
    await off.stop()


async def test_code_data_is_the_highest_tenant_layer(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "acme.yaml", "store: {pool: 1, dsn: pg://file}\n")
    app = await start(
        tmp_path,
        environ={"TENANT_ACME_STORE__POOL": "2"},
        tenants={"acme": {"store": {"pool": 3}}},
    )
    section = app.tenants.section("store", tenant="acme")
    assert (section.pool, section.dsn) == (3, "pg://file")
    assert app.tenants.provenance("store.pool", tenant="acme").source.location == (
        "tenant acme (programmatic)"
    )
    assert [o.source.feeder for o in app.tenants.provenance("store.pool", "acme").overrode] == [
        "tenant-env",
        "tenant-file",
        "dict",
    ]
    await app.stop()


async def test_later_directories_override_earlier_ones(tmp_path: Path) -> None:
    base_dir = tmp_path / "config" / "base" / "tenants"
    prod_dir = tmp_path / "config" / "environments" / "prod" / "tenants"
    write(base_dir, "acme.yaml", "store: {pool: 1, dsn: pg://base-acme}\n")
    write(prod_dir, "acme.yaml", "store: {pool: 2}\n")
    write(prod_dir, "prodonly.json", '{"store": {"pool": 5}}')
    app = await start(tmp_path, directories=[base_dir, prod_dir])
    acme = app.tenants.section("store", tenant="acme")
    assert (acme.pool, acme.dsn) == (2, "pg://base-acme")
    assert sorted(app.tenants) == ["acme", "prodonly"]
    await app.stop()


class ReplicaConfig(ConfigModel):
    dsn: str = field("sqlite://", description="connection string")
    timeout: float = field(5.0, description="seconds")


class Database(Module[ReplicaConfig]):
    name = "database"
    instance_aware = True
    env_prefix = "DB"


async def test_layers_go_base_then_instance_then_tenant(tmp_path: Path) -> None:
    base = {
        "database": {
            "primary": {"dsn": "pg://primary", "timeout": 2.0},
            "replica": {"dsn": "pg://replica"},
        }
    }
    write(tmp_path / "tenants", "acme.yaml", "database:\n  primary:\n    dsn: pg://acme-primary\n")
    app = await start(
        tmp_path,
        modules=[Database()],
        base=base,
        environ={"TENANT_ACME_DB_REPLICA_TIMEOUT": "9"},
    )
    acme = app.tenants.section("database", tenant="acme")
    assert (acme["primary"].dsn, acme["primary"].timeout) == ("pg://acme-primary", 2.0)
    assert (acme["replica"].dsn, acme["replica"].timeout) == ("pg://replica", 9.0)
    assert app.config.section("database")["primary"].dsn == "pg://primary"  # base untouched
    where = app.tenants.provenance("database.replica.timeout", tenant="acme").source
    assert where.location == "env TENANT_ACME_DB_REPLICA_TIMEOUT"
    await app.stop()


async def test_a_bad_tenant_file_fails_that_tenant_only_and_health_degrades(
    tmp_path: Path,
) -> None:
    tenants = tmp_path / "tenants"
    write(tenants, "good.yaml", "store: {pool: 2}\n")
    write(tenants, "typo.yaml", "store:\n  pool: lots\n")
    write(tenants, "broken.yaml", "store: [unclosed\n")
    write(tenants, "binary.yaml", "")
    (tenants / "binary.yaml").write_bytes(b"store:\n  dsn: \xff\xfe\n")
    app = await start(tmp_path)
    assert app.tenants.ids("active") == ["good"]
    assert sorted(app.tenants.ids("failed")) == ["binary", "broken", "typo"]
    typo = app.tenants.get("typo").error or ""
    assert "store.pool" in typo
    assert "typo.yaml:2" in typo
    assert "broken.yaml:" in (app.tenants.get("broken").error or "")
    assert "UTF-8" in (app.tenants.get("binary").error or "")
    report = app.tenants.health_report()
    assert report.status == "degraded"
    assert sorted(report.details["failed"]) == ["binary", "broken", "typo"]
    with app.tenants.use("good"):
        assert app.tenants.section("store").pool == 2
    await app.stop()


async def test_oversized_and_ambiguous_tenant_files_are_refused(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    write(tenants, "huge.yaml", "store:\n  dsn: " + "x" * 5000 + "\n")
    write(tenants, "twice.yaml", "store: {pool: 1}\n")
    write(tenants, "twice.json", '{"store": {"pool": 2}}')
    app = await start(tmp_path, max_file_bytes=1024)
    assert "at most 1024" in (app.tenants.get("huge").error or "")
    assert "two files" in (app.tenants.get("twice").error or "")
    await app.stop()


async def test_badly_named_files_and_a_missing_directory_are_reported(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "bad name!.yaml", "store: {}\n")
    app = await start(tmp_path, directories=[tmp_path / "tenants", tmp_path / "missing"])
    problems = app.tenants.problems()
    assert any("bad name!.yaml" in p for p in problems)
    assert any("missing does not exist" in p for p in problems)
    assert app.tenants.health_report().status == "degraded"
    await app.stop()
    relaxed = await start(tmp_path, directories=[tmp_path / "missing"], directories_required=False)
    assert relaxed.tenants.problems() == []
    await relaxed.stop()


async def test_app_level_validators_apply_to_every_tenant(tmp_path: Path) -> None:
    def small_pools(sections: Any) -> None:
        if sections["store"].pool > 50:
            raise ValueError("pool must stay at most 50")

    write(tmp_path / "tenants", "big.yaml", "store: {pool: 80}\n")
    write(tmp_path / "tenants", "fine.yaml", "store: {pool: 8}\n")
    app = Application(
        [StoreModule()],
        feeders=[DictFeeder({"store": {}})],
        config_validators=[small_pools],
        tenancy=TenancyOptions(directories=[tmp_path / "tenants"], environ={}),
    )
    await app.start()
    assert app.tenants.ids("failed") == ["big"]
    assert "at most 50" in (app.tenants.get("big").error or "")
    await app.stop()


async def test_reload_applies_new_changed_and_vanished_tenant_files(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    write(tenants, "stays.yaml", "store: {pool: 1}\n")
    write(tenants, "changes.yaml", "store: {pool: 1}\n")
    write(tenants, "goes.yaml", "store: {pool: 1}\n")
    app = await start(tmp_path, tenants={"coded": {}})
    write(tenants, "changes.yaml", "store: {pool: 2}\n")
    (tenants / "goes.yaml").unlink()
    write(tenants, "new.yaml", "store: {pool: 3}\n")
    outcome = await app.tenants.reload()
    assert outcome == {"added": ["new"], "updated": ["changes"], "removed": ["goes"], "failed": []}
    assert sorted(app.tenants) == ["changes", "coded", "new", "stays"]
    assert app.tenants.section("store", tenant="changes").pool == 2
    write(tenants, "stays.yaml", "store: {pool: [broken\n")
    outcome = await app.tenants.reload()
    assert outcome["failed"] == ["stays"]
    assert app.tenants.section("store", tenant="stays").pool == 1  # keeps serving
    assert app.tenants.get("stays").status is TenantStatus.ACTIVE
    await app.stop()


async def test_update_rereads_the_tenant_file(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "acme.yaml", "store: {pool: 1}\n")
    app = await start(tmp_path)
    write(tmp_path / "tenants", "acme.yaml", "store: {pool: 6}\n")
    await app.tenants.update("acme")
    assert app.tenants.section("store", tenant="acme").pool == 6
    assert app.tenants.get("acme").generation == 2
    await app.stop()


async def test_each_tenant_gets_its_own_copy_of_mutable_base_values(tmp_path: Path) -> None:
    class Tags(ConfigModel):
        labels: dict[str, Any] = field(default_factory=dict, description="free-form labels")

    class Tagged(Module[Tags]):
        name = "tags"

    app = await start(
        tmp_path,
        modules=[Tagged()],
        base={"tags": {"labels": {"shared": {"nested": [1]}}}},
        tenants={"a": {}, "b": {}},
        directories_required=False,
    )
    a = app.tenants.section("tags", tenant="a").labels
    b = app.tenants.section("tags", tenant="b").labels
    a["shared"]["nested"].append(2)
    assert b["shared"]["nested"] == [1]
    assert app.config.section("tags").labels["shared"]["nested"] == [1]
    await app.stop()


async def test_a_tenants_secrets_never_print(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "acme-secret-9d1c"
    other_secret = "typo-secret-55aa"
    write(tmp_path / "tenants", "acme.yaml", f"store:\n  password: {secret}\n")
    write(tmp_path / "tenants", "typo.yaml", f"store:\n  password: {other_secret}\n  pool: x\n")
    app = Application(
        [StoreModule()],
        feeders=[DictFeeder({"store": {}})],
        tenancy=TenancyOptions(directories=[tmp_path / "tenants"], environ={}),
        health=True,
    )
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="rec")
    await app.start()
    with app.tenants.use("acme"):
        section = app.tenants.section("store")
        assert section.password.reveal() == secret
        logging.getLogger("test").info("acme password is %s", section.password.reveal())
        logging.getLogger("test").info("repr %r", section)
    provenance = app.tenants.provenance("store.password", tenant="acme")
    snapshot = await app.health.evaluate()  # type: ignore[union-attr]
    await app.events.flush()
    outputs = [
        caplog.text,
        json.dumps(app.inspect(), default=str),
        json.dumps([e.as_dict() for e in recorder.events], default=str),
        json.dumps(snapshot.to_dict(), default=str),
        json.dumps(app.tenants.config("acme").provenance_table()),
        repr(provenance),
        repr(app.tenants.all()),
        str(app.tenants.get("typo").error),
    ]
    for text in outputs:
        assert secret not in text
        assert other_secret not in text
        assert BASE_PASSWORD not in text
    await app.stop()


async def test_unknown_sections_in_a_tenant_file_fail_that_tenant_only(tmp_path: Path) -> None:
    write(tmp_path / "tenants", "acme.yaml", "store: {pool: 1}\nstroe: {pool: 2}\n")
    write(tmp_path / "tenants", "globex.yaml", "store: {pool: 3}\n")
    app = await start(tmp_path)
    acme = app.tenants.get("acme")
    assert acme.status is TenantStatus.FAILED
    assert "stroe: unknown section; did you mean 'store'?" in str(acme.error)
    assert app.tenants.get("globex").status is TenantStatus.ACTIVE
    await app.stop()


async def test_unknown_sections_in_a_tenant_file_are_warned_about_without_strict_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "tenants", "acme.yaml", "store: {pool: 1}\nstroe: {pool: 2}\n")
    app = await start(tmp_path, strict_config=False)
    assert app.tenants.get("acme").status is TenantStatus.ACTIVE
    assert "stroe" in caplog.text
    await app.stop()


async def test_base_configuration_is_used_outside_tenants_only_when_the_guard_allows(
    tmp_path: Path,
) -> None:
    app = await start(tmp_path, tenants={"acme": {}}, directories_required=False)
    with pytest.raises(TenantContextError):
        app.tenants.config()
    await app.stop()
    relaxed = await start(
        tmp_path, tenants={"acme": {}}, directories_required=False, guard="disabled"
    )
    assert relaxed.tenants.config().section("store").pool == 4
    await relaxed.stop()


async def test_tenants_layer_over_the_loaded_base_without_reading_its_feeders_again(
    tmp_path: Path,
) -> None:
    class Counting(EnvFeeder):
        calls = 0

        def feed(self, sections: Any) -> Any:
            Counting.calls += 1
            return super().feed(sections)

    app = Application(
        [StoreModule()],
        feeders=[Counting(prefix="APP_", environ={"APP_STORE__DSN": "pg://base"})],
        tenancy=TenancyOptions(tenants={"acme": {}, "globex": {}}, environ={}),
    )
    await app.start()
    await app.tenants.reload()
    assert Counting.calls == 1  # read once, by the application's own load
    for tenant in ("acme", "globex"):
        assert app.tenants.section("store", tenant).dsn == "pg://base"
    await app.stop()


class Limits(ConfigModel):
    rate: int = field(10, description="requests per second", dynamic=True)
    region: str = field("eu", description="where the data lives")


class LimitsModule(Module[Limits]):
    name = "limits"

    async def reload(self, diff: Any) -> None:
        pass


async def test_a_dynamic_reload_of_the_base_reaches_every_tenant_before_it_returns(
    tmp_path: Path,
) -> None:
    base = tmp_path / "config.yaml"
    base.write_text("limits:\n  rate: 10\n")
    tenants = {f"t{i}": {"limits": {"region": f"r{i}"}} for i in range(60)}
    app = Application(
        [LimitsModule()],
        feeders=[YamlFeeder(base)],
        dynamic_reload=True,
        tenancy=TenancyOptions(tenants=tenants, environ={}),
    )
    await app.start()
    base.write_text("limits:\n  rate: 25\n")
    result = await app.reload()
    assert result.success
    for i in range(60):  # no waiting: the reload rebuilt every tenant before returning
        with app.tenants.use(f"t{i}"):
            limits = app.tenants.section("limits")
            assert (limits.rate, limits.region) == (25, f"r{i}")
        assert app.tenants.get(f"t{i}").generation == 2
    await app.stop()


async def test_a_reload_rereads_tenant_files_even_when_the_base_is_unchanged(
    tmp_path: Path,
) -> None:
    tenants = tmp_path / "tenants"
    write(tenants, "acme.yaml", "limits: {rate: 5}\n")
    write(tenants, "gone.yaml", "limits: {rate: 6}\n")
    app = Application(
        [LimitsModule()],
        feeders=[DictFeeder({"limits": {"rate": 10}})],
        dynamic_reload=True,
        tenancy=TenancyOptions(directories=[tenants], environ={}),
    )
    await app.start()
    write(tenants, "acme.yaml", "limits: {rate: 50}\n")  # what SIGHUP after an edit does
    (tenants / "gone.yaml").unlink()
    result = await app.reload()
    assert result.noop  # the base configuration did not change
    assert app.tenants.section("limits", tenant="acme").rate == 50
    assert list(app.tenants) == ["acme"]
    await app.stop()


async def test_editing_a_tenant_file_reloads_that_tenant_by_itself(tmp_path: Path) -> None:
    from pymodular.reload import ReloadOptions

    tenants = tmp_path / "tenants"
    write(tenants, "acme.yaml", "limits: {rate: 5}\n")
    app = Application(
        [LimitsModule()],
        feeders=[DictFeeder({"limits": {"rate": 10}})],
        dynamic_reload=ReloadOptions(watch=True, debounce=0.05),
        tenancy=TenancyOptions(directories=[tenants], environ={}),
    )
    recorder = EventRecorder()
    app.events.subscribe(recorder, name="rec")
    async with app:
        assert app.inspect()["reload"]["watching"] == [f"{tenants}/"]
        watcher = app._reloader._watcher  # type: ignore[union-attr]
        assert watcher is not None
        await watcher.ready.wait()
        await app.events.flush()  # the events of the start are in; wait for new ones only
        recorder.clear()
        write(tenants, "acme.yaml", "limits: {rate: 70}\n")
        await recorder.wait_for("tenant.updated")
        assert app.tenants.section("limits", tenant="acme").rate == 70
        recorder.clear()
        write(tenants, "globex.yaml", "limits: {rate: 80}\n")
        await recorder.wait_for("tenant.added")
        assert app.tenants.section("limits", tenant="globex").rate == 80
