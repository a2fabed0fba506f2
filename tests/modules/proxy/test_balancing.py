"""Load balancing over real loopback upstreams."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests._until import until
from tests.modules.proxy.helpers import proxy_of, proxying, section, upstream


async def test_round_robin_spreads_requests_evenly() -> None:
    async with upstream("a") as a, upstream("b") as b, upstream("c") as c:
        config = section(
            {"pool": {"targets": [a.url, b.url, c.url]}}, [{"path": "/", "upstream": "pool"}]
        )
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            names = [(await client.get("/x")).json()["name"] for _ in range(9)]
    assert names == list("abcabcabc")


async def test_weighted_balancing_follows_the_weights() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = section(
            {
                "pool": {
                    "balancer": "weighted",
                    "targets": [{"url": a.url, "weight": 3}, {"url": b.url, "weight": 1}],
                }
            },
            [{"path": "/", "upstream": "pool"}],
        )
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            names = Counter([(await client.get("/x")).json()["name"] for _ in range(40)])
    assert names == {"a": 30, "b": 10}


async def test_least_outstanding_sends_new_requests_away_from_a_busy_target() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = section(
            {"pool": {"balancer": "least_outstanding", "targets": [a.url, b.url]}},
            [{"path": "/", "upstream": "pool", "timeout": 20}],
        )
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            hanging = [asyncio.create_task(client.get("/hang")) for _ in range(2)]
            await until(lambda: a.in_flight + b.in_flight == 2)
            busy = "a" if a.in_flight == 2 else "b" if b.in_flight == 2 else None
            quick = [(await client.get("/x")).json()["name"] for _ in range(6)]
            a.release.set()
            b.release.set()
            await asyncio.gather(*hanging)
    # the two hanging requests went one to each target (ties take turns) ...
    assert busy is None
    # ... and with one in flight on each, quick requests alternate
    assert sorted(Counter(quick).values()) == [3, 3]


async def test_power_of_two_never_picks_a_busy_target_while_two_idle_ones_share_the_rest() -> None:
    async with upstream("a") as a, upstream("b") as b, upstream("c") as c:
        config = section(
            {"pool": {"balancer": "power_of_two", "targets": [a.url, b.url, c.url]}},
            [{"path": "/", "upstream": "pool", "timeout": 20}],
        )
        async with (
            proxying(config) as (app, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            targets = proxy_of(app).upstream("pool").targets
            hanging = asyncio.create_task(client.get("/hang"))
            await until(lambda: a.in_flight + b.in_flight + c.in_flight == 1)
            (busy,) = [u.name for u in (a, b, c) if u.in_flight == 1]
            quick = []
            for _ in range(30):
                # each draw sees the hanging request alone in flight
                await until(lambda: sum(t.outstanding for t in targets) == 1)
                quick.append((await client.get("/x")).json()["name"])
            for up in (a, b, c):
                up.release.set()
            await hanging
    # any two distinct draws include an idle target, which beats the busy one
    counts = Counter(quick)
    assert busy not in counts
    # ties between the two idle ones go to whichever was drawn first: both are used
    assert sorted(counts) == sorted({"a", "b", "c"} - {busy})


async def test_hash_balancing_sticks_a_session_to_one_target() -> None:
    async with upstream("a") as a, upstream("b") as b, upstream("c") as c:
        config = section(
            {
                "pool": {
                    "balancer": "hash",
                    "hash_on": "cookie:session",
                    "targets": [a.url, b.url, c.url],
                }
            },
            [{"path": "/", "upstream": "pool"}],
        )
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            seen = {
                session: {
                    (
                        await client.get("/x", headers={"Cookie": f"theme=x; session={session}"})
                    ).json()["name"]
                    for _ in range(4)
                }
                # The targets' places on the ring follow from their (free, so random)
                # ports: six sessions all land on one target about once in 250 runs,
                # twenty-four about once in 10^11.
                for session in (f"s{n}" for n in range(1, 25))
            }
    assert all(len(names) == 1 for names in seen.values())
    assert len(set().union(*seen.values())) >= 2


async def test_a_route_for_a_host_serves_only_that_host() -> None:
    async with upstream("a") as a, upstream("b") as b:
        config = section(
            {"a": {"targets": [a.url]}, "b": {"targets": [b.url]}},
            [
                {"path": "/", "upstream": "a", "host": "api.example.com"},
                {"path": "/", "upstream": "b", "host": "*.example.org"},
            ],
        )
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            first = await client.get("/x", headers={"Host": "api.example.com"})
            second = await client.get("/x", headers={"Host": "www.example.org"})
            neither = await client.get("/x", headers={"Host": "other.example.net"})
    assert first.json()["name"] == "a"
    assert second.json()["name"] == "b"
    assert neither.status_code == 404
