"""One bad tenant file never stops the application: that tenant fails alone.

Values a parser cannot turn into Python (a YAML date that does not exist, an integer
longer than the interpreter converts) used to escape as a raw ``ValueError`` and fail
the whole start, ``tenants.reload()`` and ``app.reload()``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.tenancy import TenancyOptions, TenantConfigError, TenantStatus
from tests.core.tenancy.support import StoreModule

HUGE = "9" * 5000
BAD_FILES = {
    "date.yaml": "store:\n  dsn: 2024-02-30\n",
    "yamlint.yaml": f"store:\n  pool: {HUGE}\n",
    "jsonint.json": f'{{"store": {{"pool": {HUGE}}}}}',
    "tomlint.toml": f"[store]\npool = {HUGE}\n",
}


def app_for(folder: Path) -> Application:
    return Application(
        [StoreModule()],
        feeders=[DictFeeder({"store": {"dsn": "sqlite://base"}})],
        tenancy=TenancyOptions(directories=[folder], environ={}),
        dynamic_reload=True,
    )


@pytest.mark.parametrize(("name", "text"), sorted(BAD_FILES.items()))
async def test_a_bad_tenant_file_fails_its_tenant_and_the_app_starts(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / "good.yaml").write_text("store: {pool: 2}\n")
    (tmp_path / name).write_text(text)
    tenant = name.split(".", maxsplit=1)[0]
    app = app_for(tmp_path)
    async with app:
        assert app.tenants.ids("active") == ["good"]
        assert app.tenants.ids("failed") == [tenant]
        error = app.tenants.get(tenant).error or ""
        assert f"{name}:2" in error or f"{name}:1" in error
        assert "ValueError" not in error
        assert app.tenants.health_report().status == "degraded"
        with app.tenants.use("good"):
            assert app.tenants.section("store").pool == 2


async def test_a_tenant_file_turned_bad_at_run_time_keeps_the_others_serving(
    tmp_path: Path,
) -> None:
    (tmp_path / "good.yaml").write_text("store: {pool: 2}\n")
    (tmp_path / "acme.yaml").write_text("store: {pool: 3}\n")
    app = app_for(tmp_path)
    async with app:
        (tmp_path / "acme.yaml").write_text("store:\n  dsn: 2024-02-30\n")
        (tmp_path / "good.yaml").write_text("store: {pool: 5}\n")
        outcome = await app.tenants.reload()
        assert outcome["failed"] == ["acme"]
        assert outcome["updated"] == ["good"]
        assert app.tenants.section("store", tenant="acme").pool == 3  # previous one serves
        with pytest.raises(TenantConfigError, match=r"acme\.yaml:2"):
            await app.tenants.update("acme")
        (tmp_path / "good.yaml").write_text("store: {pool: 6}\n")
        await app.reload()
        assert app.tenants.section("store", tenant="good").pool == 6
        assert app.tenants.get("acme").status is TenantStatus.ACTIVE
        assert app.tenants.health_report().status == "degraded"
