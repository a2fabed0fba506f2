"""Requests cross the proxy to real loopback upstreams, bodies streamed both ways."""

from __future__ import annotations

import asyncio
import hashlib

import httpx

from tests._until import until
from tests.modules.proxy.helpers import closed_port, proxying, section, upstream


def _one(url: str, **route: object) -> dict[str, object]:
    return section(
        {"api": {"targets": [url]}},
        [{"path": "/api", "upstream": "api", **route}],
    )


async def test_a_get_reaches_the_upstream_with_path_and_query_and_the_answer_comes_back() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/api/items/7", params={"q": "tea", "n": "2"})
    assert answer.status_code == 200
    seen = answer.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("GET", "/api/items/7", "q=tea&n=2")
    assert answer.headers["content-type"] == "application/json"


async def test_strip_and_replace_prefix_rewrite_the_path() -> None:
    routes = [
        {"path": "/strip", "upstream": "api", "strip_prefix": True},
        {"path": "/old", "upstream": "api", "replace_prefix": "/v2/new"},
    ]
    async with (
        upstream() as up,
        proxying(section({"api": {"targets": [up.url]}}, routes)) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        stripped = (await client.get("/strip/a/b")).json()
        bare = (await client.get("/strip")).json()
        replaced = (await client.get("/old/x%20y")).json()
    assert stripped["path"] == "/a/b"
    assert bare["path"] == "/"
    assert replaced["raw_path"] == "/v2/new/x%20y"


async def test_a_target_url_prefix_is_put_before_the_path() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url + "/base", strip_prefix=True)) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        seen = (await client.get("/api/x")).json()
    assert seen["path"] == "/base/x"


async def test_a_large_request_body_is_streamed_to_the_upstream_whole() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB

    async def chunks():
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    async with (
        upstream() as up,
        proxying(_one(up.url)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        declared = await client.post("/api/upload", content=payload)
        streamed = await client.post("/api/upload", content=chunks())  # chunked
    assert declared.json()["body_bytes"] == len(payload)
    assert streamed.json()["body_bytes"] == len(payload)
    assert up.requests[0]["body_head"] == payload[:64].decode("latin-1")
    sent = dict(up.requests[1]["headers"])
    assert sent["transfer-encoding"] == "chunked"


async def test_a_request_body_reaches_the_upstream_before_the_client_has_sent_all_of_it() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):

        async def chunks():
            yield b"first chunk;"
            # The rest is only sent once the upstream has the first chunk: a proxy that
            # waited for the whole body would wait here for ever (the timeout fails it).
            async with asyncio.timeout(10):
                await up.body_started.wait()
            yield b"second chunk"

        answer = await client.post("/api/upload", content=chunks())
    assert answer.json()["body_bytes"] == len(b"first chunk;second chunk")
    assert up.requests[0]["body_head"] == "first chunk;second chunk"


async def test_a_streamed_answer_arrives_whole_and_in_order() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        async with client.stream("GET", "/api/stream/500") as answer:
            parts = [part async for part in answer.aiter_raw()]
        big = await client.get("/api/big/3000000")
    body = b"".join(parts)
    assert len(body) == 500 * 1024
    assert [body[i * 1024 : i * 1024 + 6] for i in (0, 250, 499)] == [
        b"000000",
        b"000250",
        b"000499",
    ]
    assert "content-length" not in answer.headers
    assert answer.headers["x-stream"] == "1"
    assert hashlib.sha256(big.content).digest() == hashlib.sha256(b"b" * 3000000).digest()
    assert big.headers["content-length"] == "3000000"


async def test_hop_by_hop_headers_do_not_cross_either_way() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        await client.get(
            "/api/x",
            headers={
                "Connection": "keep-alive, X-Private",
                "X-Private": "secret",
                "Keep-Alive": "timeout=9",
                "TE": "trailers",
                "Proxy-Authorization": "Basic Zm9vOmJhcg==",
                "Upgrade": "h2c",
                "X-End-To-End": "kept",
            },
        )
        answer = await client.get("/api/hop")
    sent = {name for name, _ in up.requests[0]["headers"]}
    assert {"x-private", "keep-alive", "te", "proxy-authorization", "upgrade"}.isdisjoint(sent)
    assert dict(up.requests[0]["headers"])["x-end-to-end"] == "kept"
    assert "x-secret-hop" not in answer.headers
    assert "keep-alive" not in answer.headers
    assert answer.headers["x-kept"] == "yes"


async def test_forwarding_headers_describe_the_client_and_replace_what_it_claimed() -> None:
    async with upstream() as up:
        config = _one(up.url)
        config["forwarded"] = {"forwarded": True}
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            await client.get(
                "/api/x", headers={"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6"}
            )
    sent = dict(up.requests[0]["headers"])
    assert sent["x-forwarded-for"] == "127.0.0.1"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-host"] == url.removeprefix("http://")
    assert sent["forwarded"] == f'for=127.0.0.1;proto=http;host="{url.removeprefix("http://")}"'
    assert sent["host"] == url.removeprefix("http://")  # preserved by default


async def test_trusted_forwarding_headers_are_appended_to() -> None:
    async with upstream() as up:
        config = _one(up.url, host_header="target")
        config["forwarded"] = {"trust_incoming": True}
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            await client.get("/api/x", headers={"X-Forwarded-For": "10.0.0.1"})
    sent = dict(up.requests[0]["headers"])
    assert sent["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert sent["host"] == f"127.0.0.1:{up.port}"


async def test_headers_are_set_and_removed_as_the_route_says() -> None:
    async with upstream() as up:
        route = {
            "set_headers": {"X-Gateway": "pymodular"},
            "remove_headers": ["X-Internal"],
            "response_set_headers": {"X-Served-By": "proxy"},
            "response_remove_headers": ["Content-Type"],
        }
        async with (
            proxying(_one(up.url, **route)) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/api/x", headers={"X-Internal": "1", "X-Gateway": "fake"})
    sent = up.requests[0]["headers"]
    assert [v for k, v in sent if k == "x-gateway"] == ["pymodular"]
    assert "x-internal" not in dict(sent)
    assert answer.headers["x-served-by"] == "proxy"
    assert "content-type" not in answer.headers


async def test_an_unreachable_target_is_a_502_problem() -> None:
    config = _one(f"http://127.0.0.1:{closed_port()}")
    async with proxying(config) as (_, url, events), httpx.AsyncClient(base_url=url) as client:
        answer = await client.post("/api/x", content=b"data")
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert "cannot connect" in problem["detail"]
    assert problem["upstream"] == "api"
    assert len(problem["request_id"]) == 32
    failed = await events.wait_for("proxy.request.failed")
    assert failed.data["upstream"] == "api"


async def test_a_silent_target_is_a_504_after_the_route_timeout() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url, timeout=0.3, retry=False)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/api/hang")
    assert answer.status_code == 504
    assert "sent nothing" in answer.json()["detail"]


async def test_an_unknown_method_on_a_route_is_405_with_allow() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url, methods=["GET", "post"])) as (_, url, _e),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.delete("/api/x")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert up.requests == []


async def test_connections_to_a_target_are_reused() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url)) as (app, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        for _ in range(20):
            assert (await client.get("/api/x")).status_code == 200
        from tests.modules.proxy.helpers import proxy_of

        pool = proxy_of(app).upstream("api").targets[0].pool
        assert pool.total == 1
        assert len(pool.idle) == 1


def test_the_proxy_runs_on_uvloop() -> None:
    import asyncio

    import uvloop

    async def scenario() -> tuple[int, list[str]]:
        async with (
            upstream() as up,
            proxying(_one(up.url)) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answers = [await client.get("/api/x") for _ in range(3)]
            streamed = await client.get("/api/stream/50")
        return len(streamed.content), answers[0].headers.get_list("date")

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        size, dates = runner.run(scenario())
    assert size == 50 * 1024
    assert len(dates) == 1  # the server's Date only, never a second one from the target


async def test_the_request_id_travels_to_the_target_and_one_comes_back() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        answer = await client.get("/api/x")
    sent = [v for k, v in up.requests[0]["headers"] if k == "x-request-id"]
    assert answer.headers.get_list("x-request-id") == sent
    assert len(sent[0]) == 32


async def test_a_head_request_gets_the_targets_headers_and_no_body() -> None:
    async with (
        upstream() as up,
        proxying(_one(up.url)) as (_, url, _events),
        httpx.AsyncClient(base_url=url) as client,
    ):
        head = await client.head("/api/big/5000")
        after = await client.get("/api/big/10")
    assert head.status_code == 200
    assert head.headers["content-length"] == "5000"
    assert head.content == b""
    assert after.content == b"b" * 10  # the next answer was not taken for the HEAD's body


async def test_every_connection_busy_past_the_pool_timeout_is_a_503() -> None:
    config = {"max_connections": 1, "pool_timeout": 0.2}
    async with upstream() as up:
        settings = section(
            {"api": {"targets": [up.url], **config}},
            [{"path": "/api", "upstream": "api", "timeout": 20}],
        )
        async with (
            proxying(settings) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            hanging = asyncio.create_task(client.get("/api/hang"))
            await until(lambda: up.in_flight == 1)
            refused = await client.get("/api/x")
            up.release.set()
            assert (await hanging).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "came free" in refused.json()["detail"]


async def test_via_names_the_proxy_both_ways() -> None:
    async with upstream() as up:
        config = _one(up.url)
        config["via"] = "edge"
        async with (
            proxying(config) as (_, url, _events),
            httpx.AsyncClient(base_url=url) as client,
        ):
            answer = await client.get("/api/x")
    assert dict(up.requests[0]["headers"])["via"] == "1.1 edge"
    assert answer.headers["via"] == "1.1 edge"


def test_every_connection_header_of_an_answer_drops_the_names_it_lists() -> None:
    from pymodular.modules.proxy._headers import response_headers

    answer = [
        (b"connection", b"x-first"),
        (b"x-first", b"1"),
        (b"x-second", b"2"),
        (b"connection", b"x-second"),
        (b"x-kept", b"3"),
    ]
    assert response_headers(answer, remove=frozenset(), add=[]) == [(b"x-kept", b"3")]
