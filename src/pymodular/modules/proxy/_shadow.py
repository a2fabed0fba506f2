"""Shadow traffic: a copy of a request goes to a second upstream after the primary
answered; the copy's answer is compared with the primary's and never returned.

Only requests without a body are copied (a streamed body cannot be replayed), a share
``percent`` of them. The primary's answer body is hashed as it streams to the client
(when comparing); the shadow's is read whole (at most ``max_answer_bytes``). Each copy
ends in one event: ``proxy.shadow.compared`` (``same``, ``differences``) or
``proxy.shadow.failed``. Copies run as background tasks the proxy waits for when it
drains; they never delay or change the client's answer.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from pymodular.modules.proxy._composite import Caller
from pymodular.modules.proxy.errors import UpstreamError

if TYPE_CHECKING:
    from pymodular.modules._http import Scope
    from pymodular.modules.proxy._proxy import ReverseProxy
    from pymodular.modules.proxy._routing import ProxyRoute

__all__ = ("AnswerDigest", "compare_answers", "mirror")


class AnswerDigest:
    """A running hash and size of an answer body."""

    __slots__ = ("hash", "size")

    def __init__(self) -> None:
        self.hash = hashlib.blake2b(digest_size=16)
        self.size = 0

    def update(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)


def compare_answers(
    primary: tuple[int, AnswerDigest | None], shadow: tuple[int, bytes]
) -> list[str]:
    """The differences between the primary's answer and the shadow's (empty: same)."""
    (status, digest), (shadow_status, body) = primary, shadow
    differences = []
    if status != shadow_status:
        differences.append(f"status {status} != {shadow_status}")
    if digest is not None:
        other = hashlib.blake2b(body, digest_size=16).digest()
        if digest.hash.digest() != other:
            differences.append(f"body differs ({digest.size} bytes, shadow {len(body)} bytes)")
    return differences


async def mirror(
    proxy: ReverseProxy,
    route: ProxyRoute,
    scope: Scope,
    status: int,
    digest: AnswerDigest | None,
) -> None:
    """Send the copy, compare, report (the background task of one shadowed request)."""
    shadow = route.config.shadow
    upstream = route.shadow_upstream
    assert shadow is not None
    assert upstream is not None
    call = Caller(
        proxy,
        route,
        scope=scope,
        body=b"",
        deadline=proxy.loop.time() + route.timeout,
        limit=shadow.max_answer_bytes,
    )
    try:
        part = await call(upstream)
    except UpstreamError as exc:
        proxy.stats["shadow_failed"] += 1
        proxy.emit(
            "proxy.shadow.failed", route=route.label, upstream=upstream.name, reason=str(exc)
        )
        return
    differences = (
        compare_answers((status, digest), (part.status, part.body)) if shadow.compare else []
    )
    proxy.stats["shadow_compared"] += 1
    if differences:
        proxy.stats["shadow_differed"] += 1
    proxy.emit(
        "proxy.shadow.compared",
        route=route.label,
        upstream=upstream.name,
        method=scope["method"],
        path=scope["path"],
        same=not differences,
        differences=differences,
    )
