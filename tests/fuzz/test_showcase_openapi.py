"""schemathesis against the showcase's OpenAPI document, authenticated.

The showcase runs as its own process (``python -m examples.showcase``, embedded defaults)
and schemathesis generates requests from ``/openapi.json`` with a tenant administrator's
API key, so the authenticated operations are exercised past the auth check (schemathesis
also tries them without and with broken credentials). No answer may be a 5xx, and every
answer must match the document: status codes, media types, headers and body schemas.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.showcase_process import start_showcase
from tests.fuzz._bounds import SCALE

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)


@pytest.mark.timeout(240 * SCALE)  # a child process's whole run, not one computation
async def test_schemathesis_finds_no_5xx_and_no_answer_off_the_document(tmp_path: Path) -> None:
    showcase = await start_showcase(tmp_path / "showcase")
    try:
        headers = showcase.headers("acme-admin")
        async with httpx.AsyncClient(base_url=showcase.url, headers=headers) as http:
            # A task id is 32 hex digits: anything else used to reach a cache key (500).
            odd = await http.get("/api/tasks/%C2%B1%C2%8A%2A")
        assert odd.status_code == 422, odd.text
        assert odd.headers["content-type"] == "application/problem+json"
        schemathesis = Path(sys.executable).parent / "schemathesis"
        run = await asyncio.create_subprocess_exec(
            str(schemathesis),
            "run",
            f"{showcase.url}/openapi.json",
            "--header",
            f"X-API-Key: {headers['X-API-Key']}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(5 * SCALE),
            "--request-timeout",
            "20",
            "--no-color",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(240 * SCALE):
                output, _ = await run.communicate()
        finally:
            if run.returncode is None:  # timed out or cancelled: nothing may outlive the test
                run.kill()
                await run.communicate()
    finally:
        code = await showcase.stop()
    text = output.decode(errors="replace")
    assert run.returncode == 0, text[-5000:]
    assert "Tested: 9" in text, text[-2000:]
    assert code == 0
    assert "Traceback" not in showcase.log.read_text()
