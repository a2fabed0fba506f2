"""One bounded HTTP exchange with an identity provider: a deadline, a size cap, no redirects.

Used for JWK sets, discovery documents, token exchanges and userinfo. Every failure is a
:class:`FetchError` whose message says what went wrong without quoting the answer (which
may echo what was sent) or any credential.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from pymodular.secrets import redact

__all__ = ("MAX_ANSWER_BYTES", "Answer", "FetchError", "exchange", "new_client")

MAX_ANSWER_BYTES = 1 << 20


class FetchError(Exception):
    """An exchange with a provider failed; the message says why (never the answer)."""


class Answer(NamedTuple):
    """A provider's answer: status, media type and the body (at most the size cap)."""

    status: int
    media_type: str
    body: bytes

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object; raises :class:`FetchError` naming ``what``."""
        try:
            value = json.loads(self.body)
        except ValueError:
            raise FetchError(f"the {what} is not JSON") from None
        if not isinstance(value, dict):
            raise FetchError(f"the {what} is not a JSON object")
        return value


def new_client(timeout: float) -> Any:
    """An ``httpx.AsyncClient`` for provider calls (no redirects, no proxies from the
    environment: the URLs are configuration)."""
    import httpx

    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)


async def exchange(
    client: Any,
    method: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int = MAX_ANSWER_BYTES,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Answer:
    """Send one request and read the answer within ``timeout`` seconds and ``max_bytes``."""
    import httpx

    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                method,
                url,
                headers={"accept": "application/json", **(headers or {})},
                data=data,
                auth=auth,
            ) as answer:
                declared = answer.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(f"the answer is larger than {max_bytes} bytes")
                body = bytearray()
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError(f"the answer is larger than {max_bytes} bytes")
                media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
                return Answer(answer.status_code, media, bytes(body))
    except TimeoutError:
        raise FetchError(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        text = redact(str(exc)) or "request failed"
        raise FetchError(f"{type(exc).__name__}: {text}") from None
