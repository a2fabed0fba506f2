"""Replicas sharing a store: what one obtains the others serve; one renews at a time."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from pymodular.modules.acme import AcmeCertificates, AcmeModule, FileStore
from pymodular.modules.acme.backends.database import DatabaseStore
from pymodular.modules.acme.pebble import free_port
from pymodular.modules.database import DatabaseModule
from tests.modules.acme.conftest import PebbleFactory, acme_app, acme_section
from tests.modules.acme.helpers import MovableClock

DOMAIN = "www.example.test"
NINETY_DAYS = 90 * 86400
POSTGRES_DSN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
acme_check_interval = 3600


async def test_a_restart_serves_the_stored_certificate_without_a_new_order(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port, validity=NINETY_DAYS)
    acme = acme_section(server, tmp_path)
    async with acme_app(acme, port) as (app, events, _, _h):
        await events.wait_for("acme.certificate.issued", timeout=30)
        first = app.services.get(AcmeCertificates).bundle(DOMAIN)
    async with acme_app(acme, port) as (app, events, module, _h):
        loaded = await events.wait_for("acme.certificate.loaded")
        assert first is not None
        assert loaded.data["serial"] == first.serial
        await module.renew_now()  # nothing is due
        assert "acme.order.created" not in events.types()
        assert "acme.certificate.placeholder" not in events.types()
        assert (await app.health.evaluate()).module("acme").status == "healthy"


async def test_a_replica_takes_the_certificate_another_renewed_instead_of_ordering(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port, validity=NINETY_DAYS)
    acme = acme_section(server, tmp_path, check_interval=acme_check_interval)
    clock_a, clock_b = MovableClock(), MovableClock()
    replica_a = AcmeModule(clock=clock_a)
    async with acme_app(acme, port, module=replica_a) as (app_a, events_a, _, _h):
        await events_a.wait_for("acme.certificate.issued", timeout=30)
        first = app_a.services.get(AcmeCertificates).bundle(DOMAIN)
        assert first is not None
        # Replica B: same store, no HTTP-01 listener of its own (port 0).
        replica_b = AcmeModule(clock=clock_b)
        async with acme_app(acme, 0, module=replica_b) as (app_b, events_b, _, _h2):
            await events_b.wait_for("acme.certificate.loaded")
            assert await replica_a.renew(DOMAIN)  # A renews (forced: nothing is due yet)
            renewed = app_a.services.get(AcmeCertificates).bundle(DOMAIN)
            assert renewed is not None
            # B's periodic check re-reads the store and serves A's certificate.
            clock_b.set(clock_b.now + dt.timedelta(seconds=acme_check_interval + 1))
            replica_b.renewer.wake()
            loaded = await events_b.wait_for("acme.certificate.loaded", count=2)
            assert loaded.data["serial"] == renewed.serial
            served = app_b.services.get(AcmeCertificates).bundle(DOMAIN)
            assert served is not None
            assert served.serial == renewed.serial
            assert "acme.order.created" not in events_b.types()


async def test_a_replica_defers_while_another_holds_the_renewal_lock(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    acme = acme_section(server, tmp_path, auto_renew=False)
    clock = MovableClock()
    module = AcmeModule(clock=clock)
    async with acme_app(acme, port, module=module) as (app, events, _m, _h):
        async with FileStore(tmp_path).renewal_lock(DOMAIN) as mine:
            assert mine
            await module.renew_now()
            await events.wait_for("acme.renewal.deferred")
            await app.events.flush()
            assert "acme.order.created" not in events.types()
        state = module.renewer.states[DOMAIN]
        assert state.next_try is not None
        clock.set(state.next_try)
        await module.renew_now()
        await events.wait_for("acme.certificate.issued", timeout=30)


@pytest.mark.postgres
async def test_replicas_share_certificates_through_the_database_module(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    prefix = f"test_acme_{uuid.uuid4().hex[:10]}"
    acme = {**acme_section(server, tmp_path / "a"), "storage": "database", "table_prefix": prefix}
    sections = {"database": {"default": {"dsn": POSTGRES_DSN}}}
    extra = (DatabaseModule(),)
    try:
        async with acme_app(acme, port, extra=extra, sections=sections) as (app_a, events_a, _, _h):
            await events_a.wait_for("acme.certificate.issued", timeout=30)
            issued = app_a.services.get(AcmeCertificates).bundle(DOMAIN)
            assert issued is not None
        # Another replica, with its own local directory, serves it without ordering.
        acme_b = {**acme, "storage_path": str(tmp_path / "b")}
        async with acme_app(acme_b, 0, extra=(DatabaseModule(),), sections=sections) as (
            app_b,
            events_b,
            _,
            _h,
        ):
            loaded = await events_b.wait_for("acme.certificate.loaded")
            assert loaded.data["serial"] == issued.serial
            await app_b.events.flush()
            assert "acme.order.created" not in events_b.types()
        assert not list(tmp_path.rglob("account.key"))  # the account key lives in the database
    finally:
        store = DatabaseStore(url=POSTGRES_DSN, table_prefix=prefix)
        await store.open()
        await store.drop()
        await store.close()
