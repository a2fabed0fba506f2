"""The docs page's script run in Node against a real server: operations listed, a request tried."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

from pymodular import Application, Dependency, Module
from pymodular.config.feeders import DictFeeder
from pymodular.modules.httpserver import HttpServer, HttpServerModule
from pymodular.modules.router import Header, Router, RouterModule

DRIVER = Path(__file__).with_name("docs_page.mjs")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


class NewItem(BaseModel):
    name: str = Field(min_length=1, examples=["lamp"])
    price: float = Field(ge=0)


class Item(NewItem):
    shop: int
    currency: str
    trace: str


async def add_item(
    shop_id: int,
    item: NewItem,
    currency: str = "EUR",
    trace: str = Header("none", alias="X-Trace"),
) -> Item:
    """Add an item to a shop."""
    return Item(shop=shop_id, currency=currency, trace=trace, **item.model_dump())


async def ping() -> str:
    return "pong"


class Shop(Module[None]):
    name = "shop"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        items = self.router.group("/shops", tags=["items"])
        items.post("/{shop_id}/items", status_code=201, name="add_item")(add_item)
        self.router.get("/ping", name="ping")(ping)


async def drive(page: str, **options: Any) -> dict[str, Any]:
    """Run the page's script in Node (tests/modules/router/docs_page.mjs); what it shows."""
    node = shutil.which("node")
    assert node is not None, "node is missing: install Node.js 20 or later"
    process = await asyncio.create_subprocess_exec(
        node,
        str(DRIVER),
        json.dumps({"page": page, **options}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    shown: dict[str, Any] = json.loads(out)
    return shown


def listed(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The groups the page should show: per tag, in the document's order."""
    groups: dict[str, list[dict[str, str]]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            for tag in op.get("tags") or ["default"]:
                groups.setdefault(tag, []).append(
                    {
                        "id": op["operationId"],
                        "method": method.upper(),
                        "path": path,
                        "summary": op.get("summary", ""),
                    }
                )
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items()]


async def test_the_docs_page_lists_the_operations_and_sends_a_request_with_its_curl_line() -> None:
    config = {
        "httpserver": {"host": "127.0.0.1", "port": 0},
        "router": {"base_path": "/api", "openapi": {"title": "Shop", "version": "2.0"}},
    }
    app = Application([RouterModule(), Shop(), HttpServerModule()], feeders=[DictFeeder(config)])
    async with app:
        base = app.services.get(HttpServer).url.rstrip("/")
        async with httpx.AsyncClient() as http:
            document = (await http.get(f"{base}/api/openapi.json")).json()
        shown = await drive(
            f"{base}/api/docs",
            filter="POST items",
            values={"shop_id": "7", "X-Trace": "t-1"},
            **{"try": "add_item"},
        )

    assert shown["title"] == "Shop"
    assert shown["meta"].startswith(f"version 2.0 · OpenAPI {document['openapi']} · ")
    keys = ("id", "method", "path", "summary")
    groups = [
        {"tag": g["tag"], "operations": [{k: op[k] for k in keys} for op in g["operations"]]}
        for g in shown["groups"]
    ]
    assert groups == listed(document)
    assert [g["tag"] for g in groups] == ["items", "default"]
    add = shown["groups"][0]["operations"][0]
    assert (add["method"], add["path"]) == ("POST", "/api/shops/{shop_id}/items")
    assert add["parameters"] == ["shop_id", "currency", "X-Trace"]
    assert json.loads(add["body"]) == {"name": "lamp", "price": 0}  # from the schema
    assert shown["shown"] == ["add_item"]  # the filter hid GET /api/ping

    tried = shown["tried"]
    assert tried["curl"] == (
        f'curl -X POST "{base}/api/shops/7/items?currency=EUR"'
        ' -H "X-Trace: t-1" -H "Content-Type: application/json"'
        f" --data {json.dumps(add['body'])}"
    )
    assert (tried["status"], tried["ok"]) == ("201", True)
    assert json.loads(tried["answer"]) == {
        "name": "lamp",
        "price": 0.0,
        "shop": 7,
        "currency": "EUR",
        "trace": "t-1",
    }
    assert tried["answer"] == json.dumps(json.loads(tried["answer"]), indent=2)  # pretty
    assert "content-type: application/json" in tried["headers"]
