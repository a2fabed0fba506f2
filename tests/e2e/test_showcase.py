"""The showcase (what ``make run`` serves) as a real process over real HTTP.

Each test starts ``python -m examples.showcase`` on a free port with its data (SQLite
database, demo keys) in a temporary directory, and drives the user journeys: the
front page, creating and reading tasks with an API key and with a token, caching,
events recorded by the subscriber, the scheduled digest, metrics; auth failures and
tenant isolation; bad input; SIGTERM under load losing nothing accepted, and a restart
that finds everything kept.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests._until import until_async
from tests.e2e.showcase_process import Showcase, start_showcase

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAST = {"APP_DIGEST__EVERY": "1", "APP_SCHEDULER__POLL_INTERVAL": "0.2"}
SMALL_GLOBEX = {"TENANT_GLOBEX_TASKS__MAX_TASKS": "2"}  # a tenant variable: globex's quota


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def showcase(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Showcase]:
    """One process for the journeys that leave it running (each uses its own tasks)."""
    running = await start_showcase(tmp_path_factory.mktemp("showcase"), FAST | SMALL_GLOBEX)
    try:
        yield running
    finally:
        await running.kill()


async def test_the_main_journey_over_http(showcase: Showcase) -> None:
    acme = showcase.headers("acme-admin")
    async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
        front = (await http.get("/")).json()
        created = await http.post(
            "/api/tasks", json={"title": "Ship it", "tags": ["release"]}, headers=acme
        )
        task = created.json()
        location = created.headers["location"]
        first = await http.get(location, headers=acme)
        again = await http.get(location, headers=acme)  # served from the cache
        token = (await http.post("/api/token", headers=acme)).json()
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        stale = await http.patch(
            location, json={"status": "done"}, headers={**bearer, "If-Match": '"7"'}
        )
        patched = await http.patch(
            location, json={"status": "done"}, headers={**bearer, "If-Match": '"1"'}
        )
        after = await http.get(location, headers=acme)  # the cached copy was dropped
        listed = (
            await http.get("/api/tasks", params={"status": "done", "limit": 100}, headers=acme)
        ).json()
        activity: list[Any] = []

        async def recorded() -> bool:
            items = (await http.get("/api/activity", headers=acme)).json()["items"]
            activity[:] = [a for a in items if a["task_id"] == task["id"]]
            return len(activity) == 2

        await until_async(recorded, timeout=10)

        async def digested() -> bool:
            answer = await http.get("/api/digest", headers=acme)
            return answer.status_code == 200 and answer.json()["done"] >= 1

        await until_async(digested, timeout=10)
        deleted = await http.delete(location, headers=acme)
        gone = await http.get(location, headers=acme)
        document = (await http.get("/openapi.json")).json()
        docs = await http.get("/docs")
        probes = [(await http.get(p)).status_code for p in ("/livez", "/readyz", "/health")]
        metrics = (await http.get("/metrics")).text
    assert front["docs"] == "/docs"
    assert (
        "POST /api/tasks - Create a task; its URL is in Location, its version in ETag."
        in (front["endpoints"])
    )
    assert {"database", "cache", "eventbus", "scheduler", "auth", "metrics"} <= set(
        front["modules"]
    )
    assert created.status_code == 201
    assert (task["title"], task["tags"], task["status"], task["version"]) == (
        "Ship it",
        ["release"],
        "open",
        1,
    )
    assert location == f"/api/tasks/{task['id']}"
    assert first.json() == again.json() == task
    assert first.headers["etag"] == '"1"'
    assert token["token_type"] == "Bearer"
    assert stale.status_code == 412
    assert (patched.status_code, patched.json()["version"]) == (200, 2)
    assert (after.json()["status"], after.headers["etag"]) == ("done", '"2"')
    assert task["id"] in [t["id"] for t in listed["items"]]
    assert [a["topic"] for a in activity] == ["tasks.updated", "tasks.created"]
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert set(document["paths"]) >= {"/api/tasks", "/api/tasks/{task_id}", "/api/token"}
    assert docs.status_code == 200
    assert probes == [200, 200, 200]
    assert 'route="/api/tasks/{task_id}"' in metrics
    assert "pymodular_eventbus_messages_total" in metrics


async def test_auth_failures_and_tenants_kept_apart(showcase: Showcase) -> None:
    acme, reader, globex = (
        showcase.headers(k) for k in ("acme-admin", "acme-reader", "globex-admin")
    )
    async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
        mine = (await http.post("/api/tasks", json={"title": "acme's"}, headers=acme)).json()
        anonymous = await http.get("/api/tasks")
        wrong_key = await http.get("/api/tasks", headers={"X-API-Key": "pmk_not-a-key"})
        forged = await http.get("/api/tasks", headers={"Authorization": "Bearer a.b.c"})
        reader_reads = await http.get("/api/tasks", headers=reader)
        reader_writes = await http.post("/api/tasks", json={"title": "x"}, headers=reader)
        token = (await http.post("/api/token", headers=acme)).json()["access_token"]
        token_for_token = await http.post(
            "/api/token", headers={"Authorization": f"Bearer {token}"}
        )
        other_reads = await http.get(f"/api/tasks/{mine['id']}", headers=globex)
        other_deletes = await http.delete(f"/api/tasks/{mine['id']}", headers=globex)
        other_lists = (await http.get("/api/tasks", headers=globex)).json()
        quota = [
            (await http.post("/api/tasks", json={"title": f"g{n}"}, headers=globex)).status_code
            for n in range(3)
        ]
        still_mine = await http.get(f"/api/tasks/{mine['id']}", headers=acme)
    assert anonymous.status_code == 401
    assert anonymous.headers.get_list("www-authenticate") == [
        'Bearer realm="showcase"',
        'APIKey realm="showcase", header="X-API-Key"',
    ]
    assert [wrong_key.status_code, forged.status_code] == [401, 401]
    assert reader_reads.status_code == 200
    assert reader_writes.status_code == 403
    assert token_for_token.status_code == 403
    signing = (showcase.data / "keys" / "jwt.secret").read_text().strip()
    signed, _, signature = token.rpartition(".")
    expected = hmac.new(signing.encode(), signed.encode(), hashlib.sha256).digest()
    assert (
        base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature
    )  # the file's secret
    assert [other_reads.status_code, other_deletes.status_code] == [404, 404]
    assert other_lists == {"items": [], "total": 0}  # globex had none yet
    assert quota == [201, 201, 409]  # globex's own quota, from a tenant variable
    assert still_mine.status_code == 200
    for answer in (anonymous, wrong_key, reader_writes, other_reads):
        assert answer.headers["content-type"] == "application/problem+json"


async def test_bad_input_gets_a_clear_answer_and_loses_nothing(showcase: Showcase) -> None:
    acme = showcase.headers()
    async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
        kept = (await http.post("/api/tasks", json={"title": "kept"}, headers=acme)).json()
        before = (await http.get("/api/tasks", headers=acme)).json()["total"]
        json_headers = {**acme, "content-type": "application/json"}
        answers = {
            "malformed json": await http.post(
                "/api/tasks", content=b'{"title": ', headers=json_headers
            ),
            "schema": await http.post(
                "/api/tasks", json={"title": "", "tags": ["Not Lower"], "x": 1}, headers=acme
            ),
            "form": await http.post(
                "/api/tasks",
                content=b"title=x",
                headers={**acme, "content-type": "application/x-www-form-urlencoded"},
            ),
            "too large": await http.post(
                "/api/tasks", json={"title": "t", "notes": "x" * 70_000}, headers=acme
            ),
            "deep": await http.post(
                "/api/tasks", content=b"[" * 5000 + b"]" * 5000, headers=json_headers
            ),
            "bad query": await http.get("/api/tasks", params={"limit": "0"}, headers=acme),
            "bad status": await http.get("/api/tasks", params={"status": "x"}, headers=acme),
            "null title": await http.patch(
                f"/api/tasks/{kept['id']}", json={"title": None}, headers=acme
            ),
            "bad if-match": await http.patch(
                f"/api/tasks/{kept['id']}",
                json={"title": "t"},
                headers={**acme, "If-Match": "v1"},
            ),
            "bad due": await http.post(
                "/api/tasks", json={"title": "t", "due": "tomorrow"}, headers=acme
            ),
            "wrong method": await http.request("PURGE", "/api/tasks", headers=acme),
            "unknown route": await http.get("/api/nothing", headers=acme),
        }
        after = await http.get(f"/api/tasks/{kept['id']}", headers=acme)
        total = (await http.get("/api/tasks", headers=acme)).json()["total"]
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "malformed json": 400,
        "schema": 422,
        "form": 415,
        "too large": 413,
        "deep": 400,
        "bad query": 422,
        "bad status": 422,
        "null title": 422,
        "bad if-match": 422,
        "bad due": 422,
        "wrong method": 405,
        "unknown route": 404,
    }
    for name, answer in answers.items():
        assert answer.headers["content-type"] == "application/problem+json", name
    fields = {e["field"] for e in answers["schema"].json()["errors"]}
    assert fields == {"title", "tags.0", "x"} or fields >= {"title", "tags.0"}
    assert after.json() == kept  # nothing changed
    assert total == before


@pytest.mark.slow
@pytest.mark.timeout(120)  # two starts of the process; ~15 s alone, more on a busy machine
async def test_sigterm_under_load_loses_nothing_and_a_restart_keeps_it_all(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    showcase = await start_showcase(data, FAST)
    acknowledged: set[str] = set()
    server_errors: list[int] = []
    enough = asyncio.Event()
    headers = showcase.headers()

    async def client(worker: int) -> None:
        async with httpx.AsyncClient(base_url=showcase.url, timeout=20) as http:
            for n in range(10_000):
                try:
                    answer = await http.post(
                        "/api/tasks", json={"title": f"w{worker}-{n}"}, headers=headers
                    )
                except httpx.TransportError:
                    return  # the server stopped accepting: this request was not accepted
                if answer.status_code == 201:
                    acknowledged.add(answer.json()["id"])
                    if len(acknowledged) >= 150:
                        enough.set()
                elif answer.status_code >= 500:
                    server_errors.append(answer.status_code)
                else:
                    return  # 503 while draining: refused, not accepted

    try:
        workers = [asyncio.create_task(client(i)) for i in range(8)]
        async with asyncio.timeout(30):
            await enough.wait()
        showcase.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await asyncio.gather(*workers)
            code = await showcase.process.wait()
    finally:
        await showcase.kill()
    log = showcase.log.read_text()
    assert code == 0, log[-3000:]
    assert server_errors == []
    assert "Traceback" not in log
    for key_file in (data / "keys").iterdir():  # no key and no JWT secret in the log
        assert key_file.read_text().strip() not in log

    restarted = await start_showcase(data, FAST, log_name="restart.log")
    try:
        async with httpx.AsyncClient(base_url=restarted.url, timeout=10) as http:
            listed = await _all_tasks(http, restarted.headers())

            async def every_event_recorded() -> bool:
                return await _activity_count(restarted) >= len(acknowledged)

            await until_async(every_event_recorded, timeout=15)
            activity = await _activity_count(restarted)
    finally:
        await restarted.kill()
    assert listed == acknowledged  # nothing acknowledged lost, nothing unacknowledged kept
    assert activity == len(acknowledged)  # one event per write, delivered once


async def _all_tasks(http: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    found: set[str] = set()
    while True:
        page = (
            await http.get(
                "/api/tasks", params={"limit": 100, "offset": len(found)}, headers=headers
            )
        ).json()
        found.update(t["id"] for t in page["items"])
        if len(found) >= page["total"] or not page["items"]:
            return found


async def _activity_count(showcase: Showcase) -> int:
    """Rows of the activity feed, read from the SQLite file directly."""
    import sqlite3

    with sqlite3.connect(showcase.data / "showcase.db") as connection:
        return int(connection.execute("SELECT COUNT(*) FROM activity").fetchone()[0])


async def test_sighup_reloads_a_tenants_file_without_a_restart(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "acme.yaml").write_text("tasks: {max_tasks: 5000}\n")
    (tenants / "globex.yaml").write_text("tasks: {max_tasks: 1}\n")
    showcase = await start_showcase(tmp_path / "data", {"SHOWCASE_TENANTS": str(tenants)})
    try:
        globex = showcase.headers("globex-admin")
        async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
            first = await http.post("/api/tasks", json={"title": "one"}, headers=globex)
            full = await http.post("/api/tasks", json={"title": "two"}, headers=globex)
            (tenants / "globex.yaml").write_text("tasks: {max_tasks: 3}\n")
            showcase.process.send_signal(signal.SIGHUP)
            answers: list[int] = []

            async def raised() -> bool:
                answer = await http.post("/api/tasks", json={"title": "two"}, headers=globex)
                answers.append(answer.status_code)
                return answer.status_code == 201

            await until_async(raised, timeout=15, interval=0.2)
        assert await showcase.stop() == 0
    finally:
        await showcase.kill()
    assert (first.status_code, full.status_code) == (201, 409)
    assert set(answers) <= {409, 201}  # refused until the reload, never an error
    assert showcase.process.returncode == 0
