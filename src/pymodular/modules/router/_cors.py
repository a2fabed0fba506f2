"""CORS middleware whose settings hot reload can swap (origins, methods, headers, ...)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pymodular.modules._http import ASGIApp, Message, Receive, Scope, Send
from pymodular.modules.router._errors import send_request_problem
from pymodular.modules.router.config import CorsConfig

__all__ = ("CorsMiddleware", "CorsPolicy")

_ORIGIN = b"origin"
_REQUEST_METHOD = b"access-control-request-method"
_REQUEST_HEADERS = b"access-control-request-headers"
_VARY = (b"vary", b"Origin")


@dataclass(frozen=True)
class CorsPolicy:
    """The decision part of CORS: which origins, methods and headers are allowed."""

    origins: frozenset[str]
    any_origin: bool
    patterns: tuple[re.Pattern[str], ...]
    methods: frozenset[str]
    any_method: bool
    headers: frozenset[str]
    any_header: bool
    expose: str
    credentials: bool
    max_age: int

    @classmethod
    def from_config(cls, config: CorsConfig) -> CorsPolicy:
        """Compile a :class:`CorsConfig`."""
        exact = {o.rstrip("/") for o in config.allow_origins if "*" not in o}
        patterns = tuple(_pattern(o) for o in config.allow_origins if "*" in o and o != "*")
        return cls(
            origins=frozenset(exact),
            any_origin="*" in config.allow_origins,
            patterns=patterns,
            methods=frozenset(m.upper() for m in config.allow_methods),
            any_method="*" in config.allow_methods,
            headers=frozenset(h.lower() for h in config.allow_headers),
            any_header="*" in config.allow_headers,
            expose=", ".join(config.expose_headers),
            credentials=config.allow_credentials,
            max_age=config.max_age,
        )

    def allows_origin(self, origin: str) -> bool:
        """Whether ``origin`` may make cross-origin requests."""
        if self.any_origin or origin in self.origins:
            return True
        return any(p.fullmatch(origin) for p in self.patterns)

    def allows_method(self, method: str) -> bool:
        """Whether a preflight for ``method`` succeeds."""
        return self.any_method or method.upper() in self.methods

    def disallowed_headers(self, requested: Iterable[str]) -> list[str]:
        """The requested headers that are not allowed (empty when all are)."""
        if self.any_header:
            return []
        return [h for h in requested if h and h not in self.headers and not _safelisted(h)]

    def origin_header(self, origin: str) -> bytes:
        """The Access-Control-Allow-Origin value for an allowed ``origin``."""
        if self.any_origin and not self.credentials:
            return b"*"
        return origin.encode("latin-1")


_SAFELISTED = frozenset({"accept", "accept-language", "content-language", "content-type"})


def _safelisted(header: str) -> bool:
    return header in _SAFELISTED


def _pattern(origin: str) -> re.Pattern[str]:
    # CorsConfig has checked the form: "scheme://*.rest".
    scheme, _, host = origin.partition("://")
    rest = re.escape(host[1:])
    return re.compile(re.escape(scheme) + r"://[A-Za-z0-9\-]+" + rest)


class CorsMiddleware:
    """Answers CORS preflights and adds CORS headers to responses of allowed origins.

    Requests without an ``Origin`` header pass straight through. ``policy`` may be
    replaced at any time (hot reload); the next request uses the new one.
    """

    __slots__ = ("app", "policy")

    def __init__(self, app: ASGIApp, *, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = None
        request_method = None
        for key, value in scope["headers"]:
            if key == _ORIGIN:
                origin = value
            elif key == _REQUEST_METHOD:
                request_method = value
        if origin is None:
            await self.app(scope, receive, send)
            return
        policy = self.policy
        text = origin.decode("latin-1")
        if scope["method"] == "OPTIONS" and request_method is not None:
            await self._preflight(scope, send, policy, text, request_method.decode("latin-1"))
            return
        if not policy.allows_origin(text):
            await self.app(scope, receive, send)
            return
        extra = [(b"access-control-allow-origin", policy.origin_header(text)), _VARY]
        if policy.credentials:
            extra.append((b"access-control-allow-credentials", b"true"))
        if policy.expose:
            extra.append((b"access-control-expose-headers", policy.expose.encode("latin-1")))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(
        self, scope: Scope, send: Send, policy: CorsPolicy, origin: str, method: str
    ) -> None:
        requested = ""
        for key, value in scope["headers"]:
            if key == _REQUEST_HEADERS:
                requested = value.decode("latin-1")
        names = [h.strip().lower() for h in requested.split(",")]
        problems = []
        if not policy.allows_origin(origin):
            problems.append(f"origin {origin!r} is not allowed")
        if not policy.allows_method(method):
            problems.append(f"method {method!r} is not allowed")
        refused = policy.disallowed_headers(names)
        if refused:
            problems.append(f"headers {', '.join(refused)} are not allowed")
        if problems:
            detail = "CORS preflight refused: " + "; ".join(problems)
            await send_request_problem(scope, send, 400, detail)
            return
        headers = [
            (b"access-control-allow-origin", policy.origin_header(origin)),
            _VARY,
            (b"access-control-allow-methods", method.upper().encode("latin-1")),
            (b"access-control-max-age", str(policy.max_age).encode()),
            (b"content-length", b"0"),
        ]
        if requested:
            headers.append((b"access-control-allow-headers", requested.encode("latin-1")))
        if policy.credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
