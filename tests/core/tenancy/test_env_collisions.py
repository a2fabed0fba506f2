"""Tenant ids whose variable names would coincide are refused: no variable reaches two tenants.

``acme-corp``, ``acme.corp``, ``acme_corp`` and ``ACME-corp`` would all read
``TENANT_ACME_CORP_*``; the first registered keeps the name, the others are refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.tenancy import (
    InvalidTenantIdError,
    TenancyOptions,
    TenantExistsError,
    check_tenant_id,
)
from pymodular.tenancy._sources import colliding, env_token, scan_environment
from tests.core.tenancy.support import StoreModule

PRIVATE = "pg://acme-corp-private"


def app_with(tmp_path: Path, **options: object) -> Application:
    return Application(
        [StoreModule()],
        feeders=[DictFeeder({"store": {"dsn": "sqlite://base"}})],
        tenancy=TenancyOptions(directories=[tmp_path / "tenants"], **options),  # type: ignore[arg-type]
    )


def dsns(app: Application) -> dict[str, str]:
    return {t: app.tenants.section("store", tenant=t).dsn for t in app.tenants}


@pytest.mark.parametrize("other", ["acme.corp", "acme_corp", "ACME-corp", "Acme.Corp"])
async def test_a_tenant_added_under_a_colliding_id_is_refused(tmp_path: Path, other: str) -> None:
    app = app_with(tmp_path, environ={"TENANT_ACME_CORP_STORE__DSN": PRIVATE}, discover_env=False)
    async with app:
        await app.tenants.add("acme-corp")
        with pytest.raises(TenantExistsError, match="ACME_CORP") as caught:
            await app.tenants.add(other)
        assert caught.value.tenant == other
        await app.tenants.update("acme-corp")
        assert dsns(app) == {"acme-corp": PRIVATE}


async def test_variables_that_declared_a_tenant_refuse_its_colliding_twin(tmp_path: Path) -> None:
    app = app_with(tmp_path, environ={"TENANT_ACME_CORP_STORE__DSN": PRIVATE})
    async with app:
        assert dsns(app) == {"acme_corp": PRIVATE}
        with pytest.raises(TenantExistsError, match="'acme_corp' keeps it"):
            await app.tenants.add("acme-corp")
        assert dsns(app) == {"acme_corp": PRIVATE}


def test_colliding_ids_in_the_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TenantExistsError, match="'acme' and 'Acme'"):
        app_with(tmp_path, environ={}, tenants={"acme": {}, "Acme": {}})


async def test_colliding_tenant_files_load_one_tenant_and_report_the_other(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "acme-corp.yaml").write_text("store: {pool: 1}\n")
    (folder / "acme.corp.yaml").write_text("store: {pool: 2}\n")
    app = app_with(tmp_path, environ={"TENANT_ACME_CORP_STORE__DSN": PRIVATE})
    async with app:
        assert dsns(app) == {"acme-corp": PRIVATE}
        assert any("acme.corp" in p and "ACME_CORP" in p for p in app.tenants.problems())
        assert app.tenants.health_report().status == "degraded"
        await app.tenants.reload()
        await app.tenants.update("acme-corp")
        assert dsns(app) == {"acme-corp": PRIVATE}


async def test_code_tenant_and_a_colliding_file_do_not_share_variables(tmp_path: Path) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "acme.yaml").write_text("store: {pool: 2}\n")
    app = app_with(
        tmp_path,
        environ={"TENANT_ACME_STORE__DSN": PRIVATE},
        tenants={"Acme": {"store": {"pool": 3}}},
    )
    async with app:
        assert dsns(app) == {"Acme": PRIVATE}
        assert any("'acme'" in p for p in app.tenants.problems())


async def test_a_tenant_whose_id_ends_in_a_section_name_gets_its_own_variables(
    tmp_path: Path,
) -> None:
    app = app_with(
        tmp_path,
        environ={
            "TENANT_ACME_STORE_STORE__DSN": "pg://acme-store",
            "TENANT_ACME_STORE__DSN": "pg://acme",
        },
        discover_env=False,
        tenants={"acme": {}, "acme_store": {}},
    )
    async with app:
        assert dsns(app) == {"acme": "pg://acme", "acme_store": "pg://acme-store"}


def test_known_tokens_take_their_variables_before_the_first_section_boundary() -> None:
    environ = {"TENANT_ACME_STORE_STORE__DSN": "a", "TENANT_ACME_STORE__DSN": "b"}
    assert scan_environment(environ, "TENANT_", ["STORE"], known=["ACME_STORE"]) == {
        "ACME_STORE": {"TENANT_ACME_STORE_STORE__DSN": "a"},
        "ACME": {"TENANT_ACME_STORE__DSN": "b"},
    }


@given(st.lists(st.text(alphabet="aA-._b", min_size=1, max_size=4), max_size=12))
def test_registered_tenants_never_share_a_variable(candidates: list[str]) -> None:
    registered: list[str] = []
    for tenant in candidates:
        try:
            check_tenant_id(tenant)
        except InvalidTenantIdError:
            continue
        if tenant not in registered and colliding(tenant, registered) is None:
            registered.append(tenant)
    environ = {f"TENANT_{env_token(t)}_STORE__DSN": t for t in candidates if t[:1].isalnum()}
    owners = {env_token(t): t for t in registered}
    assert len(owners) == len(registered)
    by_token = scan_environment(environ, "TENANT_", ["STORE"], known=owners)
    reached: dict[str, list[str]] = {}
    for token, variables in by_token.items():
        if token in owners:
            for variable in variables:
                reached.setdefault(variable, []).append(owners[token])
    assert all(len(tenants) == 1 for tenants in reached.values())
