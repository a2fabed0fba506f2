"""Configuration of the ``router`` section.

::

    router:
      cors:
        enabled: true
        allow_origins: ["https://app.example.com", "https://*.example.com"]
        allow_credentials: true
      gzip: {enabled: true}
      disabled_routes: ["DELETE /api/notes/{id}"]

Dynamic fields (hot reload, no restart): ``debug``, ``max_body_bytes``,
``disabled_routes`` and every CORS field.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import field_validator, model_validator

from pymodular.config import ConfigModel, field

__all__ = (
    "CorsConfig",
    "GZipConfig",
    "OpenAPIConfig",
    "RequestIdConfig",
    "RouterConfig",
    "TenantConfig",
)


class CorsConfig(ConfigModel):
    """Cross-origin resource sharing for browsers."""

    enabled: bool = field(False, description="Answer CORS preflights and add CORS headers")
    allow_origins: list[str] = field(
        default_factory=list,
        description="Allowed origins: exact ('https://app.example.com'), '*', or a "
        "one-label wildcard ('https://*.example.com')",
    )
    allow_methods: list[str] = field(
        default_factory=lambda: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        description="Methods a cross-origin request may use ('*' for any)",
    )
    allow_headers: list[str] = field(
        default_factory=lambda: [
            "Accept",
            "Accept-Language",
            "Authorization",
            "Content-Language",
            "Content-Type",
            "X-Request-ID",
        ],
        description="Request headers a cross-origin request may send ('*' for any)",
    )
    expose_headers: list[str] = field(
        default_factory=lambda: ["X-Request-ID"],
        description="Response headers the browser lets scripts read",
    )
    allow_credentials: bool = field(False, description="Allow cookies and Authorization")
    max_age: int = field(600, description="Seconds a browser may cache a preflight", ge=0)

    @field_validator("allow_origins")
    @classmethod
    def _wildcards_lead(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if "*" not in origin or origin == "*":
                continue
            _, sep, host = origin.partition("://")
            if not sep or host.count("*") != 1 or not host.startswith("*."):
                raise ValueError(
                    f"CORS origin {origin!r}: a wildcard must be the first label "
                    "('https://*.example.com')"
                )
        return origins

    @model_validator(mode="after")
    def _credentials_need_explicit_origins(self) -> Self:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError(
                "cors.allow_credentials cannot be combined with allow_origins '*': list the "
                "origins that may send credentials"
            )
        return self


class RequestIdConfig(ConfigModel):
    """The request id: in a response header, in logs and events of the request (FR-047)."""

    enabled: bool = field(True, description="Give every request an id")
    header: str = field("X-Request-ID", description="Header carrying the id")
    trust_incoming: bool = field(
        True,
        description="Keep a well-formed id sent by the client or a proxy (else always new)",
    )


class GZipConfig(ConfigModel):
    """Compressing responses for clients that accept gzip."""

    enabled: bool = field(False, description="Compress responses")
    minimum_size: int = field(500, description="Smallest body in bytes worth compressing", ge=0)
    compress_level: int = field(6, description="1 (fast) to 9 (small)", ge=1, le=9)


class TenantConfig(ConfigModel):
    """Resolving the tenant of a request (multi-tenancy); off by default."""

    enabled: bool = field(False, description="Set the tenant context from each request")
    strategy: Literal["header", "subdomain", "path", "principal"] = field(
        "header",
        description="Where the tenant id comes from ('principal': the authenticated "
        "principal's tenant_id, set by the auth module's middleware)",
    )
    header: str = field("X-Tenant-ID", description="Header naming the tenant (header strategy)")
    domain: str | None = field(
        None,
        description="Base domain for the subdomain strategy: acme.example.com -> 'acme'",
        examples=["example.com"],
    )
    path_prefix: str = field(
        "/tenants",
        description="Path strategy: /tenants/acme/items -> tenant 'acme', route /items",
    )
    required: bool = field(False, description="Answer 400 when a request names no tenant")

    @model_validator(mode="after")
    def _strategy_settings(self) -> Self:
        if self.enabled and self.strategy == "subdomain" and not self.domain:
            raise ValueError("tenant.strategy 'subdomain' needs tenant.domain (example.com)")
        if not self.path_prefix.startswith("/") or self.path_prefix.endswith("/"):
            raise ValueError("tenant.path_prefix must start with '/' and not end with one")
        return self


class OpenAPIConfig(ConfigModel):
    """The OpenAPI document of the typed routes and the interactive docs page."""

    enabled: bool = field(True, description="Serve the OpenAPI 3.1 document")
    path: str = field("/openapi.json", description="Where the document is served")
    docs_enabled: bool = field(
        True, description="Serve the interactive docs page (its assets ship with the package)"
    )
    docs_path: str = field("/docs", description="Where the docs page is served")
    title: str | None = field(None, description="The API's title (default: the application's name)")
    version: str = field("0.1.0", description="The API's version, as the document states it")
    description: str | None = field(None, description="A description of the API (Markdown)")

    @model_validator(mode="after")
    def _paths(self) -> Self:
        for path in (self.path, self.docs_path):
            if not path.startswith("/") or "{" in path:
                raise ValueError(
                    f"openapi path {path!r} must start with '/' and have no parameters"
                )
        if self.path == self.docs_path:
            raise ValueError("openapi.path and openapi.docs_path must differ")
        return self


class RouterConfig(ConfigModel):
    """The ``router`` section."""

    base_path: str = field("", description="Prefix for every route ('/api')")
    debug: bool = field(
        False, description="Put tracebacks in 500 answers (never in production)", dynamic=True
    )
    redirect_slashes: bool = field(
        True, description="Redirect /items/ to /items (and back) when only the other exists"
    )
    root_redirect: bool = field(
        True,
        description="GET / redirects to the docs page when no route answers / (and the "
        "page is served)",
    )
    max_body_bytes: int | None = field(
        1024 * 1024,
        description="Largest request body a route reads (413 above); routes and groups "
        "may set their own; None leaves only the server's limit",
        ge=0,
        dynamic=True,
    )
    request_id: RequestIdConfig = field(
        default_factory=RequestIdConfig, description="Request id middleware"
    )
    cors: CorsConfig = field(default_factory=CorsConfig, description="CORS", dynamic=True)
    gzip: GZipConfig = field(default_factory=GZipConfig, description="GZip compression")
    tenant: TenantConfig = field(default_factory=TenantConfig, description="Tenant resolution")
    openapi: OpenAPIConfig = field(
        default_factory=OpenAPIConfig, description="OpenAPI document and docs page"
    )
    disabled_routes: list[str] = field(
        default_factory=list,
        description="Routes answering 404: route names, path templates ('/items/{id}') "
        "or 'METHOD /path'",
        dynamic=True,
    )

    @model_validator(mode="after")
    def _base_path(self) -> Self:
        if self.base_path and (not self.base_path.startswith("/") or self.base_path.endswith("/")):
            raise ValueError("base_path must start with '/' and not end with one ('/api')")
        return self
