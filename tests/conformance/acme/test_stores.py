"""What every certificate store does: keys and chains by name, first account key wins,
atomic replacement, one renewal lock holder among replicas."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from pymodular.modules.acme import CertificateStoreError, StoredCertificate
from pymodular.modules.acme._certs import generate_key, self_signed
from tests.conformance.acme.conftest import StoreFactory

DIRECTORY = "https://acme.example.test/directory"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def pair(domain: str) -> StoredCertificate:
    bundle = self_signed([domain], NOW)
    return StoredCertificate(bundle.fullchain_pem, bundle.key_pem)


async def test_nothing_is_stored_at_first(make_store: StoreFactory) -> None:
    store = make_store()
    assert await store.load_account_key(DIRECTORY) is None
    assert await store.load_certificate("www.example.test") is None


async def test_the_first_account_key_saved_wins_for_every_replica(make_store: StoreFactory) -> None:
    one, two = make_store(), make_store()
    first, second = generate_key("ec256"), generate_key("ec256")
    await one.save_account_key(DIRECTORY, first)
    await two.save_account_key(DIRECTORY, second)
    assert await one.load_account_key(DIRECTORY) == first
    assert await two.load_account_key(DIRECTORY) == first
    assert await one.load_account_key("https://other.example.test/dir") is None


async def test_a_certificate_is_replaced_whole(make_store: StoreFactory) -> None:
    store = make_store()
    old, new = pair("www.example.test"), pair("www.example.test")
    await store.save_certificate("www.example.test", old)
    await store.save_certificate("*.example.test", pair("*.example.test"))
    await store.save_certificate("www.example.test", new)
    assert await store.load_certificate("www.example.test") == new
    assert await make_store().load_certificate("www.example.test") == new
    wildcard = await store.load_certificate("*.example.test")
    assert wildcard is not None
    assert wildcard != new


async def test_one_replica_at_a_time_holds_the_renewal_lock(make_store: StoreFactory) -> None:
    one, two = make_store(), make_store()
    async with one.renewal_lock("www.example.test") as first:
        assert first
        async with two.renewal_lock("www.example.test") as second:
            assert not second
        async with two.renewal_lock("api.example.test") as other:
            assert other
    async with two.renewal_lock("www.example.test") as after:
        assert after


async def test_the_lock_is_released_when_the_holder_fails(make_store: StoreFactory) -> None:
    one, two = make_store(), make_store()

    async def failing_renewal() -> None:
        async with one.renewal_lock("www.example.test") as mine:
            assert mine
            raise RuntimeError("the order failed")

    with pytest.raises(RuntimeError):
        await failing_renewal()
    async with two.renewal_lock("www.example.test") as mine:
        assert mine


async def test_replicas_racing_for_the_lock_have_exactly_one_winner(
    make_store: StoreFactory,
) -> None:
    stores = [make_store() for _ in range(5)]
    entered = asyncio.Event()
    release = asyncio.Event()
    winners: list[int] = []

    async def contend(index: int) -> None:
        async with stores[index].renewal_lock("race.example.test") as mine:
            if mine:
                winners.append(index)
                entered.set()
                await release.wait()

    tasks = [asyncio.create_task(contend(i)) for i in range(5)]
    await asyncio.wait_for(entered.wait(), timeout=10)
    done, _ = await asyncio.wait(tasks, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    while len(done) < 4:  # the four losers return at once
        more, _ = await asyncio.wait(
            [t for t in tasks if t not in done], timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        done |= more
    release.set()
    await asyncio.gather(*tasks)
    assert len(winners) == 1


async def test_reprs_and_descriptions_hold_no_key(make_store: StoreFactory) -> None:
    store = make_store()
    stored = pair("www.example.test")
    await store.save_certificate("www.example.test", stored)
    key_line = stored.key_pem.decode().splitlines()[1]
    for text in (repr(store), str(store.describe()), repr(stored)):
        assert key_line not in text
    assert CertificateStoreError  # the error every store raises for I/O failures
