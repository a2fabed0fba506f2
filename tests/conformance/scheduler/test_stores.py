"""The job store contract, one scenario per guarantee, run over every engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pymodular.modules.scheduler import JobInfo, JobStore, Outcome, RunRecord

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


async def opened(make: Callable[..., JobStore], **kw: object) -> JobStore:
    store = make(**kw)
    await store.open()
    return store


def run(job: str, outcome: Outcome = Outcome.SUCCEEDED, at: float = T0) -> RunRecord:
    return RunRecord(job=job, outcome=outcome.value, scheduled_for=at, started_at=at,
                     finished_at=at + 0.5, attempts=1, replica="r1")  # fmt: skip


async def test_register_keeps_the_description_and_starts_with_an_empty_state(make_store) -> None:
    store = await opened(make_store)
    state = await store.register(JobInfo("a", {"every": 5.0}, "tasks:a", {"retries": 1}))
    assert state.watermark is None
    assert state.runs == 0
    await store.register(JobInfo("b", {"cron": "* * * * *"}, "tasks:b"))
    listed = await store.jobs()
    assert [(info.id, info.schedule) for info, _ in listed] == [
        ("a", {"every": 5.0}),
        ("b", {"cron": "* * * * *"}),
    ]
    assert await store.state("missing") is None


async def test_a_tick_is_claimed_once_and_never_again(make_store) -> None:
    store = await opened(make_store)
    await store.register(JobInfo("a"))
    assert await store.claim("a", T0, T0 + 60) is True
    assert await store.claim("a", T0, T0 + 60) is False
    assert await store.claim("a", T0 - 60, T0) is False  # older than the watermark
    assert await store.claim("a", T0 + 60, T0 + 120) is True
    state = await store.state("a")
    assert state is not None
    assert (state.watermark, state.next_run) == (T0 + 60, T0 + 120)


async def test_concurrent_claims_from_replicas_have_exactly_one_winner(make_store) -> None:
    replicas = [await opened(make_store) for _ in range(3)]
    await replicas[0].register(JobInfo("a"))
    for k in range(20):
        tick = T0 + k
        results = await asyncio.gather(*(r.claim("a", tick, None) for r in replicas))
        assert results.count(True) == 1


async def test_concurrent_leases_from_replicas_stay_within_the_limit(make_store) -> None:
    replicas = [await opened(make_store) for _ in range(4)]
    await replicas[0].register(JobInfo("a"))
    for k in range(20):
        now, limit = T0 + 100 * k, 1 + k % 2
        tokens = await asyncio.gather(
            *(r.acquire("a", f"r{i}", now, 30, limit) for i, r in enumerate(replicas))
        )
        won = [t for t in tokens if t is not None]
        assert len(won) == limit, (k, tokens)
        assert len(set(won)) == limit
        for token in won:
            assert await replicas[0].release("a", token, run("a", at=now), now + 1) is True


async def test_leases_are_bounded_by_the_limit_and_tokens_grow(make_store) -> None:
    store = await opened(make_store)
    first = await store.acquire("a", "r1", T0, 30, 2)
    second = await store.acquire("a", "r2", T0, 30, 2)
    assert first is not None
    assert second is not None
    assert second > first
    assert await store.acquire("a", "r3", T0, 30, 2) is None
    assert await store.release("a", first, run("a"), T0 + 1) is True
    third = await store.acquire("a", "r3", T0 + 1, 30, 2)
    assert third is not None
    assert third > second


async def test_an_expired_lease_frees_its_slot_and_its_release_is_fenced(make_store) -> None:
    store = await opened(make_store)
    await store.register(JobInfo("a"))
    stale = await store.acquire("a", "r1", T0, 10, 1)
    assert stale is not None
    assert await store.renew("a", stale, T0 + 5, 10) is True  # now expires at T0 + 15
    assert await store.acquire("a", "r2", T0 + 14, 10, 1) is None
    fresh = await store.acquire("a", "r2", T0 + 16, 10, 1)
    assert fresh is not None
    assert fresh > stale
    assert await store.renew("a", stale, T0 + 16, 10) is False
    assert await store.release("a", stale, run("a", Outcome.FAILED), T0 + 17) is False
    state = await store.state("a")
    assert state is not None
    assert (state.runs, state.last_outcome) == (0, None)  # the fenced write changed nothing
    assert await store.release("a", fresh, run("a"), T0 + 18) is True
    state = await store.state("a")
    assert state is not None
    assert (state.runs, state.last_outcome) == (1, "succeeded")
    history = await store.history("a")
    assert [(r.outcome, r.reason) for r in history] == [
        ("succeeded", None),
        ("failed", "fenced"),
    ]


async def test_release_counts_outcomes_and_consecutive_failures(make_store) -> None:
    store = await opened(make_store)
    await store.register(JobInfo("a"))
    for outcome in (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.FAILED):
        token = await store.acquire("a", "r1", T0, 30, 1)
        assert token is not None
        await store.release("a", token, run("a", outcome), T0)
    state = await store.state("a")
    assert state is not None
    assert (state.runs, state.failures, state.consecutive_failures) == (3, 3, 3)
    token = await store.acquire("a", "r1", T0, 30, 1)
    assert token is not None
    await store.release("a", token, run("a"), T0)
    state = await store.state("a")
    assert state is not None
    assert (state.runs, state.failures, state.consecutive_failures) == (4, 3, 0)
    assert state.last_started == T0
    assert state.last_finished == T0 + 0.5


async def test_history_is_newest_first_bounded_and_per_job_or_global(make_store) -> None:
    store = await opened(make_store, history_limit=3)
    for i in range(5):
        await store.record(run("a", Outcome.SKIPPED, T0 + i))
        await store.record(run("b", Outcome.SKIPPED, T0 + i))
    a = await store.history("a")
    assert [r.scheduled_for for r in a] == [T0 + 4, T0 + 3, T0 + 2]
    everything = await store.history(None, limit=4)
    assert [(r.job, r.scheduled_for) for r in everything] == [
        ("b", T0 + 4), ("a", T0 + 4), ("b", T0 + 3), ("a", T0 + 3)
    ]  # fmt: skip
    assert await store.history("a", limit=0) == []
    assert await store.history("nobody") == []


async def test_a_run_request_is_taken_by_one_replica_only(make_store) -> None:
    one, two = await opened(make_store), await opened(make_store)
    await one.request_run("a")
    await one.request_run("b")
    taken = await asyncio.gather(one.take_requests(), two.take_requests())
    assert sorted(taken[0] + taken[1]) == ["a", "b"]
    assert await one.take_requests() == []


async def test_state_survives_a_new_store_object_on_the_same_data(make_store) -> None:
    store = await opened(make_store)
    await store.register(JobInfo("a"))
    await store.claim("a", T0, T0 + 1)
    await store.close()
    again = await opened(make_store)
    state = await again.register(JobInfo("a"))
    assert state.watermark == T0


async def test_forget_removes_the_job(make_store) -> None:
    store = await opened(make_store)
    await store.register(JobInfo("a"))
    await store.record(run("a"))
    await store.forget("a")
    assert await store.state("a") is None
    assert await store.history("a") == []
    assert [info.id for info, _ in await store.jobs()] == []


async def test_ping_answers_and_describe_names_the_engine(make_store) -> None:
    store = await opened(make_store)
    await store.ping()
    assert store.describe()["engine"] == store.name
