"""Shadow traffic: copies to a second upstream, compared, never returned."""

from __future__ import annotations

from typing import Any

import httpx

from pymodular.modules.proxy._shadow import AnswerDigest, compare_answers
from tests.modules.proxy.helpers import closed_port, proxy_of, proxying, section, upstream


def _shadowed(primary: str, copy: str, **shadow: Any) -> dict[str, Any]:
    return section(
        {"live": {"targets": [primary]}, "next": {"targets": [copy]}},
        [{"path": "/", "upstream": "live", "shadow": {"upstream": "next", **shadow}}],
    )


async def test_a_copy_goes_to_the_shadow_and_differences_are_reported() -> None:
    async with (
        upstream("live") as live,
        upstream("next") as shadow,
        proxying(_shadowed(live.url, shadow.url)) as (_, url, events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        same = await client.get("/big/1000")
        first = await events.wait_for("proxy.shadow.compared")
        shadow.failing = True
        differs = await client.get("/big/1000")
        second = await events.wait_for("proxy.shadow.compared", count=2)
        posted = await client.post("/x", content=b"body")
    assert (same.status_code, differs.status_code) == (200, 200)  # always the primary's
    assert first.data["same"] is True
    assert second.data["same"] is False
    assert second.data["differences"][0] == "status 200 != 503"
    assert posted.status_code == 200
    assert [r["method"] for r in shadow.requests] == ["GET", "GET"]  # bodies are not copied


async def test_a_failing_shadow_never_touches_the_answer() -> None:
    async with upstream("live") as live:
        dead = f"http://127.0.0.1:{closed_port()}"
        async with (
            proxying(_shadowed(live.url, dead)) as (app, url, events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/x")
            failed = await events.wait_for("proxy.shadow.failed")
            stats = proxy_of(app).describe()["stats"]
    assert answer.json()["name"] == "live"
    assert "cannot connect" in failed.data["reason"]
    assert stats["shadow_failed"] == 1


async def test_percent_zero_copies_nothing() -> None:
    async with (
        upstream("live") as live,
        upstream("next") as shadow,
        proxying(_shadowed(live.url, shadow.url, percent=0)) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        for _ in range(5):
            await client.get("/x")
    assert shadow.requests == []


def test_answers_compare_by_status_and_body() -> None:
    digest = AnswerDigest()
    digest.update(b"hello ")
    digest.update(b"world")
    assert compare_answers((200, digest), (200, b"hello world")) == []
    assert compare_answers((200, digest), (201, b"hello there")) == [
        "status 200 != 201",
        "body differs (11 bytes, shadow 11 bytes)",
    ]
    assert compare_answers((200, None), (200, b"anything")) == []
