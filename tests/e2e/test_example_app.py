"""The example notes API as a separate process over real HTTP, stopped under load.

``python -m examples.app`` (the smallest example application) is started on a free port with its
notes saved to a file. The test exercises the API, then sends SIGTERM while clients
keep creating notes and one request is half-way through its body, and checks that
every request the server accepted was answered and every acknowledged note was kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.showcase_process import spawn

ROOT = Path(__file__).resolve().parents[2]


class Example:
    def __init__(
        self, process: asyncio.subprocess.Process, url: str, data_file: Path, log: Path
    ) -> None:
        self.process = process
        self.url = url
        self.api = f"{url}/api/notes"
        self.data_file = data_file
        self.log = log


@pytest.fixture
async def example(tmp_path: Path) -> AsyncIterator[Example]:
    data_file = tmp_path / "notes.json"
    log = tmp_path / "stderr.log"
    env = {
        **os.environ,
        "APP_HTTPSERVER__PORT": "0",
        "APP_HTTPSERVER__ACCESS_LOG": "false",
        "APP_HTTPSERVER__SHUTDOWN_DELAY": "1",  # time to see readiness turn on a busy machine
        "APP_NOTES__DATA_FILE": str(data_file),
        "APP_NOTES__MAX_WAIT": "0.2",  # schemathesis may ask to long-poll for that long
        "PYTHONUNBUFFERED": "1",
    }
    process, line = await spawn("examples.app", env, log)
    try:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)/api/notes", line)
        assert found, f"unexpected first line: {line!r}; stderr: {log.read_text()[-2000:]}"
        yield Example(process, found.group(1), data_file, log)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_notes_api_over_http(example: Example) -> None:
    async with httpx.AsyncClient() as http:
        created = await http.post(example.api, json={"title": "First", "tags": ["Work", "work"]})
        location = created.headers["location"]
        note = created.json()
        fetched = await http.get(f"{example.url}{location}")
        listed = await http.get(example.api, params={"tag": "work"})
        stale = await http.patch(
            f"{example.url}{location}", json={"body": "x"}, headers={"if-match": '"9"'}
        )
        patched = await http.patch(
            f"{example.url}{location}", json={"body": "more"}, headers={"if-match": '"1"'}
        )
        replaced = await http.put(f"{example.url}{location}", json={"title": "Renamed"})
        deleted = await http.delete(f"{example.url}{location}")
        gone = await http.get(f"{example.url}{location}")
        health = [await http.get(f"{example.url}{p}") for p in ("/healthz", "/readyz", "/health")]
    assert created.status_code == 201
    assert location == f"/api/notes/{note['id']}"
    assert (note["title"], note["tags"], note["version"]) == ("First", ["work"], 1)
    assert created.headers["etag"] == '"1"'
    assert fetched.json() == note
    assert listed.json()["total"] == 1
    assert stale.status_code == 412
    assert (patched.json()["body"], patched.json()["version"]) == ("more", 2)
    assert (replaced.json()["title"], replaced.json()["body"]) == ("Renamed", "")
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert [h.status_code for h in health] == [200, 200, 200]
    assert {m["name"] for m in health[2].json()["modules"]} >= {"httpserver", "router", "notes"}


async def test_bad_input_gets_the_right_status_and_a_problem(example: Example) -> None:
    async with httpx.AsyncClient() as http:
        answers = {
            "invalid json": await http.post(
                example.api, content=b'{"title": ', headers={"content-type": "application/json"}
            ),
            "invalid note": await http.post(example.api, json={"title": "", "extra": 1}),
            "not json": await http.post(
                example.api, content=b"title=x", headers={"content-type": "text/plain"}
            ),
            "too large": await http.post(example.api, json={"title": "t", "body": "x" * 70_000}),
            "bad query": await http.get(example.api, params={"limit": "many"}),
            "wrong method": await http.request("PURGE", example.api),
            "unknown route": await http.get(f"{example.url}/api/nothing"),
            "huge headers": await http.get(example.api, headers={"x-big": "a" * 40_000}),
            "huge number": await http.post(
                example.api,
                content=b'{"title": ' + b"9" * 5000 + b"}",
                headers={"content-type": "application/json"},
            ),
        }
        still = await http.get(example.api)
    port = int(example.url.rsplit(":", 1)[1])
    targets = [
        b"GET http://x:99999999/ HTTP/1.1",
        b"GET http://evil.example HTTP/1.1",
        b"GET http://[::1/ HTTP/1.1",
        b"CONNECT 127.0.0.1:443 HTTP/1.1",
    ]
    for line in targets:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(10):
            raw = await reader.read()
        writer.close()
        assert raw.startswith(b"HTTP/1.1 400"), (line, raw[:80])
    statuses = {name: a.status_code for name, a in answers.items()}
    assert statuses == {
        "invalid json": 400,
        "invalid note": 422,
        "not json": 415,
        "too large": 413,
        "bad query": 422,
        "wrong method": 405,
        "unknown route": 404,
        "huge headers": 431,
        "huge number": 400,
    }
    for name, answer in answers.items():
        assert answer.headers["content-type"] == "application/problem+json", name
        assert answer.json()["status"] == answer.status_code, name
    assert {e["field"] for e in answers["invalid note"].json()["errors"]} == {"title", "extra"}
    assert still.status_code == 200


# Schemathesis needs about 5 s of CPU (start-up, then some 400 cases over three phases);
# on two cores under a load of 25 that stretches roughly tenfold, so this test gets a
# bound of its own rather than the suite's 60 s.
@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_openapi_document_is_valid_and_schemathesis_finds_nothing(
    example: Example, tmp_path: Path
) -> None:
    from openapi_spec_validator import validate

    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{example.url}/api/openapi.json")).json()
        page = await http.get(f"{example.url}/api/docs")
    validate(document)
    assert set(document["paths"]) == {
        "/api/notes",
        "/api/notes/changes",
        "/api/notes/{note_id}",
    }
    assert page.status_code == 200
    schemathesis = Path(sys.executable).parent / "schemathesis"
    run = await asyncio.create_subprocess_exec(
        str(schemathesis),
        "run",
        f"{example.url}/api/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_headers_conformance,response_schema_conformance",
        "--max-examples",
        "10",
        "--generation-deterministic",
        "--no-color",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(240):
            output, _ = await run.communicate()
    finally:
        if run.returncode is None:  # timed out or cancelled: nothing may outlive the test
            run.kill()
            await run.communicate()
    text = output.decode(errors="replace")
    assert run.returncode == 0, text[-4000:]
    assert "Tested: 7" in text
    assert re.search(r"\d+ generated, \d+ passed", text), text[-2000:]


async def test_ctrl_c_stops_the_example_cleanly(example: Example) -> None:
    async with httpx.AsyncClient() as http:
        created = (await http.post(example.api, json={"title": "kept"})).json()
    example.process.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
    async with asyncio.timeout(30):
        code = await example.process.wait()
    log = example.log.read_text()
    assert code == 0
    assert "stopping notes" in log
    assert "Traceback" not in log
    saved = json.loads(example.data_file.read_text())["notes"]
    assert [n["id"] for n in saved] == [created["id"]]


async def half_sent_create(
    example: Example,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A create whose headers the application has read (it asked for the body with
    100 Continue) and whose body is still to come."""
    body = json.dumps({"title": "in flight"}).encode()
    port = int(example.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/notes HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    await writer.drain()
    async with asyncio.timeout(10):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
    return reader, writer, body


DRAIN_RUNS = 5
DRAIN_WRITERS = 32


@pytest.mark.slow
@pytest.mark.parametrize("run", range(DRAIN_RUNS))
async def test_sigterm_under_load_loses_nothing_that_was_accepted(
    example: Example, run: int
) -> None:
    acknowledged: set[str] = set()
    server_errors: list[int] = []
    refused = 0
    resets: list[str] = []
    enough = asyncio.Event()

    async def client(worker: int) -> None:
        nonlocal refused
        async with httpx.AsyncClient(timeout=20) as http:
            for n in range(10_000):
                try:
                    answer = await http.post(example.api, json={"title": f"w{worker}-{n}"})
                except httpx.ConnectError:
                    refused += 1
                    return  # the server stopped accepting: this request was never sent
                except httpx.TransportError as exc:
                    # Sent, then the connection dropped: the client cannot tell whether
                    # it was applied. A graceful stop must never do this.
                    resets.append(f"{type(exc).__name__}: {exc}")
                    return
                if answer.status_code == 201:
                    acknowledged.add(answer.json()["id"])
                    if len(acknowledged) >= 200:
                        enough.set()
                elif answer.status_code >= 500:
                    server_errors.append(answer.status_code)

    workers = [asyncio.create_task(client(i)) for i in range(DRAIN_WRITERS)]
    reader, writer, body = await half_sent_create(example)
    async with asyncio.timeout(30):
        await enough.wait()
    example.process.send_signal(signal.SIGTERM)
    async with httpx.AsyncClient() as http, asyncio.timeout(10):
        while (await http.get(f"{example.url}/readyz")).status_code != 503:
            pass  # readiness turns 503 while the server still answers
    writer.write(body)  # the accepted request completes during the drain
    answer = await reader.read()
    writer.close()
    await asyncio.gather(*workers)
    async with asyncio.timeout(30):
        code = await example.process.wait()
    assert code == 0
    assert answer.startswith(b"HTTP/1.1 201")
    acknowledged.add(json.loads(answer.partition(b"\r\n\r\n")[2])["id"])
    saved = {n["id"] for n in json.loads(example.data_file.read_text())["notes"]}
    assert server_errors == []
    assert len(acknowledged) >= 200
    assert saved == acknowledged  # nothing acknowledged was lost, nothing unacknowledged kept
    assert resets == []  # no request was cut: idle connections got Connection: close
    assert refused == DRAIN_WRITERS  # every client ran until the server stopped accepting
