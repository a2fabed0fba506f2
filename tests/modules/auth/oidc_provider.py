"""npm's oidc-provider on loopback (tests/_oidc/provider.mjs) and a browser that uses it.

The provider is installed by ``scripts/npm-deps.sh`` (``make test`` runs it). Without it,
tests skip with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

PROVIDER_DIR = Path(__file__).resolve().parents[2] / "_oidc"


def provider_missing() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed (run scripts/npm-deps.sh)"
    return None


def need_provider() -> None:
    """Skip (fail under CI=true) when the provider cannot run."""
    reason = provider_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the OIDC tests must run)")
        pytest.skip(reason)


@asynccontextmanager
async def oidc_provider(accounts: dict[str, Any] | None = None) -> AsyncIterator[str]:
    """Run a provider for the block; yields its issuer URL."""
    need_provider()
    process = await asyncio.create_subprocess_exec(
        "node",
        str(PROVIDER_DIR / "provider.mjs"),
        json.dumps({"accounts": accounts or {}}),
        cwd=PROVIDER_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = await process.stdout.readline()
        if not line:
            raise RuntimeError("the OpenID provider exited before it was ready")
        yield json.loads(line)["issuer"]
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def register_client(issuer: str, app_url: str, prefix: str, *names: str) -> dict[str, str]:
    """Register a confidential client whose callbacks are ``app_url/prefix/<name>/callback``."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{issuer}/reg",
            json={
                "redirect_uris": [f"{app_url}{prefix}/{n}/callback" for n in names],
                "post_logout_redirect_uris": [f"{app_url}/"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
        )
    assert answer.status_code == 201, answer.text
    data = answer.json()
    return {"client_id": data["client_id"], "client_secret": data["client_secret"]}


class _Forms(HTMLParser):
    """The forms of a page: action, and the inputs inside (or naming) each."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = {"action": found.get("action", ""), "id": found.get("id"), "fields": {}}
            self.forms.append(self._open)
        elif tag in ("input", "button") and found.get("name"):
            owner = self._open
            if found.get("form"):
                owner = next((f for f in self.forms if f["id"] == found["form"]), owner)
            if owner is not None and found["name"] not in owner["fields"]:
                owner["fields"][found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


async def through_provider(
    http: httpx.AsyncClient, answer: httpx.Response, login: str
) -> httpx.Response:
    """Fill in the provider's pages (login, consent, logout) as a person would, following
    every redirect, until an answer that is not one of its forms."""
    for _ in range(6):
        if "text/html" not in answer.headers.get("content-type", ""):
            return answer
        parser = _Forms()
        parser.feed(answer.text)
        if not parser.forms:
            return answer
        form = parser.forms[0]
        fields = dict(form["fields"])
        if "login" in fields:
            fields.update(login=login, password="any password")
        if "logout" in fields or "xsrf" in fields:
            fields["logout"] = "yes"
        answer = await http.post(urljoin(str(answer.url), form["action"]), data=fields)
    raise AssertionError("the provider kept asking")
