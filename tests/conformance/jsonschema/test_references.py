"""Remote references: fetched only from allowed prefixes, only while compiling."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pymodular.modules.jsonschema import JsonSchemaService, RemoteReferenceError, SchemaError
from tests.conformance.jsonschema.conftest import Make, found

DOCUMENTS: dict[str, Any] = {
    "/schemas/money.json": {"type": "number", "minimum": 0},
    "/schemas/price.json": {
        "type": "object",
        "properties": {"amount": {"$ref": "money.json"}},
        "required": ["amount"],
    },
    "/schemas/big.json": {"enum": list(range(100_000))},
}


class _Handler(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        document = DOCUMENTS.get(self.path)
        if document is None:
            self.send_error(404)
            return
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("content-type", "application/schema+json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def schema_server() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/schemas/", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_remote_reference_is_refused_without_a_request_when_not_allowed(
    make: Make, schema_server: tuple[str, list[str]]
) -> None:
    base, requests = schema_server
    with pytest.raises(RemoteReferenceError) as caught:
        make().compile({"$ref": base + "money.json"})
    assert caught.value.extra["uri"] == base + "money.json"
    assert isinstance(caught.value, PermissionError)
    with pytest.raises(RemoteReferenceError):
        make(remote_refs=["http://127.0.0.1:1/"]).compile({"$ref": base + "money.json"})
    assert requests == []


def test_an_allowed_remote_reference_is_fetched_once_at_compile_time(
    make: Make, schema_server: tuple[str, list[str]]
) -> None:
    base, requests = schema_server
    service = make(remote_refs=[base])
    schema = service.compile({"properties": {"price": {"$ref": base + "price.json"}}})
    assert sorted(requests) == ["/schemas/money.json", "/schemas/price.json"]
    for _ in range(3):
        issues = schema.issues({"price": {"amount": -1}})
    assert found(issues) == {("/price/amount", "minimum")}
    assert found(schema.issues({"price": {}})) == {("/price/amount", "required")}
    assert len(requests) == 2


@pytest.mark.parametrize(
    ("path", "config", "message"),
    [
        ("missing.json", {}, "fetching"),
        ("big.json", {"max_document_bytes": 10_000}, "more than 10000 bytes"),
    ],
    ids=["404", "too-large"],
)
def test_a_failed_fetch_is_a_remote_reference_error(
    make: Make, schema_server: tuple[str, list[str]], path: str, config: dict[str, Any],
    message: str,
) -> None:  # fmt: skip
    base, _ = schema_server
    service = make(remote_refs=[base], **config)
    with pytest.raises(RemoteReferenceError, match=message):
        service.compile({"$ref": base + path})


def test_an_unreachable_server_fails_within_the_fetch_timeout(make: Make) -> None:
    service = make(remote_refs=["http://127.0.0.1:1/"], fetch_timeout=2)
    with pytest.raises(RemoteReferenceError, match="fetching"):
        service.compile({"$ref": "http://127.0.0.1:1/x.json"})


def test_file_references_follow_the_same_policy(make: Make, tmp_path: Path) -> None:
    (tmp_path / "n.json").write_text('{"type": "integer"}')
    uri = (tmp_path / "n.json").as_uri()
    with pytest.raises(RemoteReferenceError):
        make().compile({"$ref": uri})
    schema = make(remote_refs=[tmp_path.as_uri() + "/"]).compile({"$ref": uri})
    assert found(schema.issues("x")) == {("", "type")}


def test_a_fetcher_can_be_given_and_sees_only_allowed_uris(engine: str) -> None:
    from pymodular.modules.jsonschema import JsonSchemaConfig

    asked: list[str] = []

    def fetch(uri: str) -> Any:
        asked.append(uri)
        return {"type": "string"}

    config = JsonSchemaConfig(engine=engine, remote_refs=["https://schemas.example.com/"])
    service = JsonSchemaService(config, fetch=fetch)
    assert not service.compile({"$ref": "https://schemas.example.com/s.json#"}).is_valid(1)
    with pytest.raises(RemoteReferenceError):
        service.compile({"$ref": "https://other.example.com/s.json"})
    assert asked == ["https://schemas.example.com/s.json"]


def test_a_fetched_document_that_is_not_a_schema_fails(make: Make) -> None:
    service = make(remote_refs=["https://x.example/"], fetch=lambda uri: {"type": 12})
    with pytest.raises(SchemaError):
        service.compile({"$ref": "https://x.example/bad.json"})
