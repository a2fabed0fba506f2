"""``GET /``: what the service offers; ``POST /api/token``: an API key buys a JWT."""

from __future__ import annotations

from typing import Any

from examples.showcase.common import AUTH_ERRORS
from examples.showcase.models import Token
from examples.showcase.replica import REPLICA
from pymodular import Dependency, Module
from pymodular.modules.auth import Auth, principal_of, require_auth
from pymodular.modules.router import HTTPException, Request, Router

__all__ = ("HomeModule", "replica_header")

ABOUT = (
    "A multi-tenant task API assembled from pymodular's bundled modules: an HTTP server "
    "and typed router with OpenAPI, API keys and JWTs, tenants, a SQL database with "
    "migrations, a cache, an event bus with a transactional outbox, a scheduler, "
    "JSON Schema checks, health, metrics and hot reload."
)


class HomeModule(Module[None]):
    """The front page and the token endpoint."""

    name = "home"
    router = Dependency(Router)
    auth = Dependency(Auth)

    async def init(self, app: Any) -> None:
        self._offers: dict[str, Any] | None = None
        self.router.use(replica_header)
        self.router.get("/", include_in_schema=False)(self.index)
        self.router.post(
            "/api/token",
            middleware=[require_auth()],
            responses={**AUTH_ERRORS},
        )(self.token)

    async def index(self) -> dict[str, Any]:
        """What this service is and where everything is."""
        if self._offers is None:
            self._offers = self._describe()
        return self._offers

    async def token(self, request: Request) -> Token:
        """Exchange the API key sent in X-API-Key for a bearer JWT with its roles and scopes."""
        principal = principal_of(request)
        if principal.mechanism != "api_key":
            raise HTTPException(403, "only an API key can be exchanged for a token")
        issuer = self.auth.issuer
        if issuer is None:
            raise HTTPException(404, "token issuing is turned off (auth.issuing.enabled)")
        pair = issuer.issue(
            principal.subject,
            roles=sorted(principal.roles),
            scopes=sorted(principal.scopes),
            tenant_id=principal.tenant_id,
        )
        return Token(access_token=pair.access_token, expires_in=pair.expires_in)

    def _describe(self) -> dict[str, Any]:
        document = self.router.openapi.document()
        endpoints = [
            f"{method.upper()} {path} - {operation.get('summary', '')}".rstrip(" -")
            for path, item in document["paths"].items()
            for method, operation in item.items()
            if isinstance(operation, dict) and "responses" in operation
        ]
        return {
            "service": self.app.name,
            "about": ABOUT,
            "replica": REPLICA,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "health": {"liveness": "/livez", "readiness": "/readyz", "details": "/health"},
            "metrics": "/metrics",
            "authentication": {
                "api_key": "send the key in X-API-Key",
                "bearer": "POST /api/token with an API key, then Authorization: Bearer <token>",
            },
            "endpoints": endpoints,
            "modules": list(self.app.order),
        }


def replica_header(app: Any) -> Any:
    """Middleware: every answer says which replica gave it (``X-Replica``)."""
    header = (b"x-replica", REPLICA.encode())

    async def with_replica(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await app(scope, receive, send_tagged)

    return with_replica
