"""The Cloudflare DNS provider of docs/acme.md, run as written against a loopback stand-in
of the three Cloudflare v4 endpoints it uses (create, list and delete DNS records).

The stand-in keeps records per zone, answers as Cloudflare documents (``{"success": ...,
"result": ...}``) and refuses requests without the zone's bearer token, so the test shows
what the example sends: the record it creates, the token it presents, the records it
finds and deletes again — and that a refusal reaches the caller as an error.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pymodular.config import Secret
from pymodular.modules.acme import DnsProvider
from tests.test_docs import ROOT, blocks

ZONE = "0123456789abcdef0123456789abcdef"
TOKEN = "cf-test-token-" + uuid.uuid4().hex


class CloudflareStandIn:
    """``/client/v4/zones/<zone>/dns_records`` on loopback, with the records it holds."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.seen: list[tuple[str, str, str | None]] = []  # method, path, authorization
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet."""

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self) -> list[str] | None:
                parts = urlsplit(self.path).path.strip("/").split("/")
                stand_in.seen.append((self.command, self.path, self.headers["authorization"]))
                if parts[:3] != ["client", "v4", "zones"] or parts[4:5] != ["dns_records"]:
                    self._answer(404, {"success": False, "errors": [{"code": 7003}]})
                    return None
                if parts[3] != ZONE or self.headers["authorization"] != f"Bearer {TOKEN}":
                    self._answer(403, {"success": False, "errors": [{"code": 10000}]})
                    return None
                return parts[5:]

            def do_POST(self) -> None:
                rest = self._route()
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if rest != []:
                    return
                record = {**body, "id": uuid.uuid4().hex, "zone_id": ZONE}
                stand_in.records[record["id"]] = record
                self._answer(200, {"success": True, "errors": [], "result": record})

            def do_GET(self) -> None:
                if self._route() != []:
                    return
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                found = [
                    r
                    for r in stand_in.records.values()
                    if all(r.get(k) == v for k, v in query.items())
                ]
                self._answer(200, {"success": True, "errors": [], "result": found})

            def do_DELETE(self) -> None:
                rest = self._route()
                if rest is None:
                    return
                if len(rest) != 1 or stand_in.records.pop(rest[0], None) is None:
                    self._answer(404, {"success": False, "errors": [{"code": 81044}]})
                    return
                self._answer(200, {"success": True, "errors": [], "result": {"id": rest[0]}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def cloudflare() -> Iterator[CloudflareStandIn]:
    stand_in = CloudflareStandIn()
    stand_in.thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


@functools.cache
def documented_provider() -> type:
    """``CloudflareDns`` exactly as docs/acme.md defines it (read and run once)."""
    text = (ROOT / "docs" / "acme.md").read_text(encoding="utf-8")
    (source,) = [b for _, lang, b in blocks(text) if lang == "python" and "class Cloudflare" in b]
    # The guide's earlier block imported DnsProvider into the document's namespace.
    namespace: dict[str, Any] = {"__name__": "acme_guide", "DnsProvider": DnsProvider}
    exec(compile(source, "<docs/acme.md: CloudflareDns>", "exec"), namespace)  # noqa: S102 - our own guide
    provider: type = namespace["CloudflareDns"]
    return provider


async def test_the_guide_s_cloudflare_provider_creates_and_removes_the_txt_record(
    cloudflare: CloudflareStandIn,
) -> None:
    provider = documented_provider()(ZONE, Secret(TOKEN), propagation=0)
    provider.api = cloudflare.url
    assert isinstance(provider, DnsProvider)
    name, value = "_acme-challenge.www.example.test", "gfj9Xq...Rg85nM"
    await provider.set_txt(name, value)
    (record,) = cloudflare.records.values()
    assert {k: record[k] for k in ("type", "name", "content", "ttl")} == {
        "type": "TXT", "name": name, "content": value, "ttl": 60,
    }  # fmt: skip
    other = {"type": "TXT", "name": name, "content": "another order's value", "id": "keep"}
    cloudflare.records["keep"] = other
    await provider.clear_txt(name, value)
    assert list(cloudflare.records) == ["keep"]  # only its own value is removed
    assert [(m, p.split("?")[0].rsplit("/", 1)[-1]) for m, p, _ in cloudflare.seen] == [
        ("POST", "dns_records"), ("GET", "dns_records"), ("DELETE", record["id"]),
    ]  # fmt: skip
    assert {auth for _, _, auth in cloudflare.seen} == {f"Bearer {TOKEN}"}


async def test_the_guide_s_cloudflare_provider_reports_a_refused_token(
    cloudflare: CloudflareStandIn,
) -> None:
    provider = documented_provider()(ZONE, Secret("cf-revoked-token"), propagation=0)
    provider.api = cloudflare.url
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await provider.set_txt("_acme-challenge.example.test", "value")
    assert caught.value.response.status_code == 403
    assert "cf-revoked-token" not in str(caught.value)
    assert cloudflare.records == {}
