"""Sequential pipelines: each step sends what the previous answer says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pymodular.modules.proxy import ProxyConfig
from tests.modules.proxy.helpers import proxying, section, upstream


def _pipeline(
    targets: dict[str, str],
    steps: list[dict[str, Any]],
    path: str = "/users/{id}/summary",
    **more: Any,
) -> dict[str, Any]:
    return section(
        {name: {"targets": [url]} for name, url in targets.items()},
        [
            {
                "path": path,
                "composite": {"strategy": "sequential", "steps": steps, **more},
            }
        ],
    )


def _headers(record: dict[str, Any]) -> dict[str, str]:
    return dict(record["headers"])


async def test_each_step_uses_the_previous_answer_and_the_client_gets_the_last() -> None:
    async with upstream("a") as users, upstream("b") as orders:
        config = _pipeline(
            {"users": users.url, "orders": orders.url},
            [
                {"upstream": "users", "path": "/users/{params.id}", "body": "none"},
                {
                    "upstream": "orders",
                    "method": "POST",
                    "path": "/orders?owner={previous.body.name}&from={previous.body.path}",
                    "body": "previous",
                    "headers": {
                        "x-previous-status": "{previous.status}",
                        "x-previous-type": "{previous.header.content-type}",
                        "x-user": "{params.id}",
                    },
                },
            ],
        )
        async with proxying(config) as (_app, url, _events), httpx.AsyncClient(base_url=url) as c:
            answer = await c.get("/users/a%20b/summary")
    first, second = users.requests[0], orders.requests[0]
    last = answer.json()
    assert answer.status_code == 200
    assert (first["method"], first["raw_path"], first["body_bytes"]) == ("GET", "/users/a%20b", 0)
    assert last == second  # the client gets the last step's answer
    assert second["method"] == "POST"
    assert second["raw_path"] == "/orders"
    assert second["query"] == "owner=a&from=%2Fusers%2Fa%20b"
    headers = _headers(second)
    assert headers["x-previous-status"] == "200"
    assert headers["x-previous-type"] == "application/json"
    assert headers["x-user"] == "a b"
    assert headers["content-type"] == "application/json"
    assert second["body_bytes"] > 100  # the first answer, sent on


async def test_steps_default_to_the_clients_request() -> None:
    async with upstream("a") as one, upstream("b") as two:
        config = _pipeline(
            {"one": one.url, "two": two.url},
            [
                {"upstream": "one"},
                {"upstream": "two", "headers": {"x-from": "{previous.body.name}"}},
            ],
            path="/orders",
        )
        async with proxying(config) as (_app, url, _events), httpx.AsyncClient(base_url=url) as c:
            answer = await c.put("/orders/9?x=1", content=b"payload")
    assert [
        (r["method"], r["raw_path"], r["query"], r["body_bytes"])
        for r in (*one.requests, *two.requests)
    ] == [
        ("PUT", "/orders/9", "x=1", 7),
        ("PUT", "/orders/9", "x=1", 7),
    ]
    assert _headers(answer.json())["x-from"] == "a"


async def test_a_step_answering_4xx_ends_the_pipeline_with_that_answer() -> None:
    async with upstream("a") as users, upstream("b") as orders:
        config = _pipeline(
            {"users": users.url, "orders": orders.url},
            [
                {"upstream": "users", "path": "/status/404"},
                {"upstream": "orders", "path": "/orders/{previous.body.name}"},
            ],
        )
        async with proxying(config) as (_app, url, _events), httpx.AsyncClient(base_url=url) as c:
            answer = await c.get("/users/1/summary")
    assert answer.status_code == 404
    assert answer.json()["name"] == "a"
    assert orders.requests == []


@pytest.mark.parametrize(
    ("first", "second", "detail"),
    [
        ("/status/503", "/x", "step 1 (users) answered 503"),
        ("/x", "/orders/{previous.body.missing}", "has no field 'missing'"),
        ("/x", "/orders/{previous.body.headers}", "is not a single value"),
        ("/big/10", "/orders/{previous.body.name}", "is not JSON"),
        ("/x", "/orders/{previous.header.x-none}", "has no 'x-none' header"),
    ],
)
async def test_failed_steps_and_values_that_cannot_be_found_answer_502(
    first: str, second: str, detail: str
) -> None:
    async with upstream("a") as users, upstream("b") as orders:
        config = _pipeline(
            {"users": users.url, "orders": orders.url},
            [{"upstream": "users", "path": first}, {"upstream": "orders", "path": second}],
        )
        async with proxying(config) as (_app, url, _events), httpx.AsyncClient(base_url=url) as c:
            answer = await c.get("/users/1/summary")
    assert answer.status_code == 502
    assert detail in answer.json()["detail"]
    assert orders.requests == []


async def test_hostile_values_cannot_reshape_the_path_or_inject_headers() -> None:
    async with upstream("a") as users, upstream("b") as orders:
        steps = [
            {"upstream": "users"},
            {"upstream": "orders", "path": "/orders/{previous.body.body_head}"},
        ]
        injecting = [
            {"upstream": "users"},
            {"upstream": "orders", "headers": {"x-note": "{previous.body.body_head}"}},
        ]
        async with (
            proxying(_pipeline({"users": users.url, "orders": orders.url}, steps, path="/p")) as (
                _app,
                url,
                _events,
            ),
            httpx.AsyncClient(base_url=url) as c,
        ):
            shaped = await c.post("/p", content=b"a/../../admin?x=1#y")
        async with (
            proxying(
                _pipeline({"users": users.url, "orders": orders.url}, injecting, path="/p")
            ) as (_app, url, _events),
            httpx.AsyncClient(base_url=url) as c,
        ):
            injected = await c.post("/p", content=b"ok\r\nx-admin: 1")
    assert shaped.json()["raw_path"] == "/orders/a%2F..%2F..%2Fadmin%3Fx%3D1%23y"
    assert injected.status_code == 502
    assert "control character" in injected.json()["detail"]
    assert len(orders.requests) == 1


async def test_the_empty_policy_applies_to_steps() -> None:
    async with upstream("a") as one, upstream("b") as two:
        targets = {"one": one.url, "two": two.url, "three": one.url}
        steps = [
            {"upstream": "one", "path": "/first"},
            {"upstream": "two", "path": "/big/0"},  # 200 with no body
            {"upstream": "three", "path": "/after/{previous.body.path}"},
        ]
        outcomes = {}
        for policy in ("skip", "fail", "allow"):
            config = _pipeline(targets, steps, path="/p", empty_policy=policy)
            async with (
                proxying(config) as (_app, url, _events),
                httpx.AsyncClient(base_url=url) as c,
            ):
                outcomes[policy] = await c.get("/p")
    assert outcomes["skip"].json()["raw_path"] == "/after/%2Ffirst"  # step 1's answer
    assert outcomes["fail"].status_code == 502
    assert "step 2 (two) answered nothing" in outcomes["fail"].json()["detail"]
    assert outcomes["allow"].status_code == 502  # the empty answer is not JSON
    assert "is not JSON" in outcomes["allow"].json()["detail"]


@pytest.mark.parametrize(
    ("steps", "composite", "message"),
    [
        ([{"upstream": "u", "path": "/x/{previous.body.id}"}], {}, "step 1 has no previous"),
        ([{"upstream": "u", "body": "previous"}], {}, "step 1 has no previous"),
        (
            [{"upstream": "u"}, {"upstream": "u", "path": "/{previous.foo}"}],
            {},
            "not a placeholder",
        ),
        ([{"upstream": "u"}, {"upstream": "u", "path": "/{params.nope}"}], {}, "does not capture"),
        ([{"upstream": "u"}, {"upstream": "u", "path": "/x}"}], {}, "unbalanced brace"),
        ([{"upstream": "u"}, {"upstream": "u", "path": "x"}], {}, "must start with '/'"),
        ([{"upstream": "u", "method": "GE T"}], {}, "not an HTTP method"),
        ([{"upstream": "u", "headers": {"host": "x"}}], {}, "managed by the proxy"),
        ([{"upstream": "u"}], {"strategy": "merge"}, "steps are for the sequential"),
        ([{"upstream": "u"}], {"upstreams": ["v"]}, "must name the steps' upstreams"),
        ([{"upstream": "ghost"}], {}, "names upstream 'ghost'"),
    ],
)
def test_bad_steps_are_refused(
    steps: list[dict[str, Any]], composite: dict[str, Any], message: str
) -> None:
    config = section(
        {"u": {"targets": ["http://127.0.0.1:1"]}, "v": {"targets": ["http://127.0.0.1:2"]}},
        [
            {
                "path": "/users/{id}",
                "composite": {"strategy": "sequential", "steps": steps, **composite},
            }
        ],
    )
    with pytest.raises(ValueError, match=message):
        ProxyConfig.model_validate(config)
