"""Renewal against pebble: in time, swapped live, escalated while the CA is down, recovered."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import httpx
import pytest

from pymodular.modules.acme import AcmeCertificates, AcmeModule
from pymodular.modules.acme.pebble import free_port
from tests.modules.acme.conftest import PebbleFactory, acme_app, acme_section
from tests.modules.acme.helpers import MovableClock, presented

NINETY_DAYS = 90 * 86400
DOMAIN = "www.example.test"


async def test_a_due_certificate_is_renewed_and_served_to_new_connections_without_restart(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port, validity=NINETY_DAYS)
    clock = MovableClock()
    module = AcmeModule(clock=clock)
    async with acme_app(acme_section(server, tmp_path), port, module=module) as (
        app,
        events,
        _,
        https,
    ):
        issued = await events.wait_for("acme.certificate.issued", timeout=30)
        first = app.services.get(AcmeCertificates).bundle(DOMAIN)
        assert first is not None
        renew_at = dt.datetime.fromisoformat(issued.data["renew_at"])
        window = first.not_after - renew_at
        assert dt.timedelta(days=30) <= window <= dt.timedelta(days=33)  # 30 days + jitter
        roots = server.roots()
        assert (await presented(https.port, DOMAIN, roots)).serial_number == int(first.serial, 16)

        # A connection made before the renewal keeps working after it.
        async with httpx.AsyncClient(verify=False) as client:  # noqa: S501 - names are fake
            before = await client.get(f"https://127.0.0.1:{https.port}/healthz")
            assert before.status_code == 200

            clock.set(renew_at + dt.timedelta(seconds=1))
            module.renewer.wake()
            renewed = await events.wait_for("acme.certificate.renewed", timeout=30)
            assert renewed.data["domain"] == DOMAIN
            assert (await client.get(f"https://127.0.0.1:{https.port}/healthz")).status_code == 200

        second = app.services.get(AcmeCertificates).bundle(DOMAIN)
        assert second is not None
        assert second.serial != first.serial
        assert (await presented(https.port, DOMAIN, roots)).serial_number == int(second.serial, 16)
        assert 30 <= events.of("acme.certificate.expiring")[0].data["days_left"] <= 33
        assert https.port == app.services.get("https").port  # the same listener throughout


async def test_renewal_failing_near_expiry_escalates_keeps_serving_and_recovers(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port, validity=NINETY_DAYS)
    clock = MovableClock()
    module = AcmeModule(clock=clock)
    async with acme_app(acme_section(server, tmp_path), port, module=module) as (
        app,
        events,
        _,
        https,
    ):
        await events.wait_for("acme.certificate.issued", timeout=30)
        served = app.services.get(AcmeCertificates).bundle(DOMAIN)
        assert served is not None
        roots = server.roots()

        server.stop()  # the CA is down
        clock.set(served.not_after - dt.timedelta(days=5))
        module.renewer.wake()
        escalation = await events.wait_for("acme.renewal.escalated", timeout=30)
        assert escalation.data["severity"] == "error"
        assert 4.9 < escalation.data["days_left"] < 5.1
        failed = events.of("acme.renewal.failed")[0]
        assert failed.data["kind"] == "AcmeUnavailableError"
        health = (await app.health.evaluate()).module("acme")
        assert health.status == "degraded"
        assert DOMAIN in health.message
        # The last valid certificate is still what clients get.
        assert (await presented(https.port, DOMAIN, roots)).serial_number == int(served.serial, 16)
        state = module.renewer.states[DOMAIN]
        assert state.next_try is not None
        assert state.next_try > clock.now

        await asyncio.to_thread(server.start)  # the CA is back (with a new root and no accounts)
        clock.set(clock.now + dt.timedelta(hours=1))
        module.renewer.wake()
        await events.wait_for("acme.renewal.recovered", timeout=30)
        renewed = app.services.get(AcmeCertificates).bundle(DOMAIN)
        assert renewed is not None
        assert renewed.serial != served.serial
        assert (await app.health.evaluate()).module("acme").status == "healthy"
        assert (await presented(https.port, DOMAIN, server.roots())).serial_number == int(
            renewed.serial, 16
        )
        assert events.of("acme.account.registered")  # registered again at the new CA

        # Past expiry with the CA down again: expired, unhealthy, reported once.
        server.stop()
        clock.set(renewed.not_after + dt.timedelta(minutes=1))
        module.renewer.wake()
        expired = await events.wait_for("acme.certificate.expired", timeout=30)
        assert expired.data["severity"] == "error"
        assert (await app.health.evaluate()).module("acme").status == "unhealthy"
        clock.set(clock.now + dt.timedelta(hours=1))
        module.renewer.wake()
        await events.wait_for("acme.renewal.failed", timeout=30, count=3)
        assert len(events.of("acme.certificate.expired")) == 1


async def test_the_ca_stopping_mid_order_ends_in_a_retry_that_succeeds_once_it_is_back(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    module = AcmeModule()
    stopped = asyncio.Event()

    async with acme_app(acme_section(server, tmp_path), port, module=module) as (
        app,
        events,
        _,
        _h,
    ):

        def stop_at_the_challenge(event: object) -> None:
            if not stopped.is_set():
                server.stop()  # the order exists, the challenge is published
                stopped.set()

        app.events.subscribe(stop_at_the_challenge, "acme.challenge.published")
        await asyncio.wait_for(stopped.wait(), timeout=30)
        failed = await events.wait_for("acme.renewal.failed", timeout=30)
        assert failed.data["failures"] == 1
        assert module.http01.pending == 0  # the challenge was withdrawn
        assert (await app.health.evaluate()).module("acme").status == "degraded"

        await asyncio.to_thread(server.start)
        issued = await events.wait_for("acme.certificate.issued", timeout=30)
        assert issued.data["domain"] == DOMAIN
        bundle = app.services.get(AcmeCertificates).bundle(DOMAIN)
        assert bundle is not None
        assert not bundle.placeholder
        assert module.renewer.states[DOMAIN].failures == 0
        assert (await app.health.evaluate()).module("acme").status == "healthy"


@pytest.mark.slow
async def test_short_lived_certificates_are_renewed_by_the_loops_own_timer(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port, validity=9)  # renewal due 3 s before expiry (a third)
    async with acme_app(acme_section(server, tmp_path), port) as (app, events, _, https):
        issued = await events.wait_for("acme.certificate.issued", timeout=30)
        renewed = await events.wait_for("acme.certificate.renewed", timeout=30)
        assert renewed.data["serial"] != issued.data["serial"]
        # The loop woke by itself, with time left on the first certificate.
        started = events.of("acme.certificate.expiring")[0]
        assert 0 < started.data["seconds_left"] <= 3.5
        bundle = app.services.get(AcmeCertificates).bundle(DOMAIN)
        assert bundle is not None
        assert bundle.serial == renewed.data["serial"]
        leaf = await presented(https.port, DOMAIN, server.roots())
        assert leaf.serial_number in {int(bundle.serial, 16)} | {
            int(e.data["serial"], 16) for e in events.of("acme.certificate.renewed")
        }


async def test_the_https_listener_starts_with_a_placeholder_while_the_ca_is_unreachable(
    pebble: PebbleFactory, tmp_path: Path
) -> None:
    port = free_port()
    server = pebble(http_port=port)
    server.stop()  # down before the application starts
    async with acme_app(acme_section(server, tmp_path), port) as (app, events, _, https):
        await events.wait_for("acme.renewal.failed", timeout=30)
        placeholder = await presented(https.port, DOMAIN)
        assert placeholder.issuer == placeholder.subject  # self-signed stand-in
        health = (await app.health.evaluate()).module("acme")
        assert health.status == "degraded"
        assert "waiting for a first certificate" in health.message
        escalation = await events.wait_for("acme.renewal.escalated", timeout=30)
        assert escalation.data["days_left"] is None  # nothing valid is served yet

        await asyncio.to_thread(server.start)
        await events.wait_for("acme.certificate.issued", timeout=30)
        issued = await presented(https.port, DOMAIN, server.roots())
        assert issued.issuer != issued.subject
        assert (await app.health.evaluate()).module("acme").status == "healthy"
