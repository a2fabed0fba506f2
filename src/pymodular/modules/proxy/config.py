"""Configuration of the ``proxy`` section: upstreams (backend groups) and the routes to them.

::

    proxy:
      upstreams:
        users:
          balancer: least_outstanding
          targets:
            - http://127.0.0.1:9001
            - {url: http://127.0.0.1:9002, weight: 3}
          health_check: {enabled: true, path: /healthz}
      routes:
        - path: /api/users
          upstream: users
          strip_prefix: true

An *upstream* is a group of *targets* (backends) behind one balancer, with its own pool
limits, health checks and circuit breakers; a *route* sends requests under a path prefix
(and, optionally, for some methods or one host) to an upstream. ``upstreams``,
``routes``, ``retry``, ``forwarded`` and ``tenant`` are dynamic: a hot reload applies
them to the next request, and requests in flight finish on what they started with.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import field_validator, model_validator

from pymodular._credentials import register_header_credentials
from pymodular.config import ConfigModel, Secret, field

__all__ = (
    "AdminConfig",
    "BreakerConfig",
    "CompositeConfig",
    "ForwardedConfig",
    "HealthCheckConfig",
    "OutlierConfig",
    "PipelineStep",
    "ProxyConfig",
    "ProxyRetryConfig",
    "RouteConfig",
    "ShadowConfig",
    "TargetConfig",
    "TenantRoutingConfig",
    "UpstreamConfig",
    "UpstreamTLSConfig",
    "WebSocketConfig",
)

Balancer = Literal["round_robin", "weighted", "least_outstanding", "power_of_two", "hash"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    # An upstream credential set here (Authorization, X-Api-Key, ...) is masked wherever
    # configuration shows (inspect, config check, events, errors) like a Secret field's.
    register_header_credentials(headers)
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if not _VALUE.match(value):
            raise ValueError(f"the value of header {name!r} holds a control character")
        if name.lower() in _HOP_BY_HOP:
            raise ValueError(f"header {name!r} is managed by the proxy and cannot be set")
    return {name.lower(): value for name, value in headers.items()}


class TargetConfig(ConfigModel):
    """One backend of an upstream."""

    url: str = field(
        description="http://host:port or https://host:port of the backend (a path is a prefix)"
    )
    weight: int = field(1, description="Share of requests for the weighted balancer", ge=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        from pymodular.modules.proxy._target import parse_url

        parse_url(url)  # raises ValueError with the reason
        return url


class HealthCheckConfig(ConfigModel):
    """Active health checks: a GET to every target of the upstream on an interval."""

    enabled: bool = field(False, description="Check targets actively")
    path: str = field("/healthz", description="Path asked on each target")
    interval: float = field(5.0, description="Seconds between checks of one target", gt=0)
    timeout: float = field(2.0, description="Seconds a check may take", gt=0)
    expected_statuses: list[int] = field(
        default_factory=lambda: [200], description="Statuses that count as healthy"
    )
    healthy_threshold: int = field(
        2, description="Consecutive passes before an unhealthy target returns", ge=1
    )
    unhealthy_threshold: int = field(
        2, description="Consecutive failures before a target leaves the rotation", ge=1
    )

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/") or any(c in path for c in "\r\n "):
            raise ValueError("the health check path must start with '/' and hold no spaces")
        return path


class OutlierConfig(ConfigModel):
    """Passive health: a target that keeps failing real requests is ejected for a while."""

    enabled: bool = field(True, description="Eject targets on consecutive failures")
    consecutive_failures: int = field(
        5, description="Failures in a row (connect errors, 5xx) that eject a target", ge=1
    )
    ejection_seconds: float = field(
        10.0, description="Seconds an ejected target stays out (doubles each time)", gt=0
    )
    max_ejection_seconds: float = field(300.0, description="Longest ejection", gt=0)
    max_ejected_ratio: float = field(
        0.5, description="Share of an upstream's targets that may be ejected at once", gt=0, le=1
    )


class BreakerConfig(ConfigModel):
    """A circuit breaker per target: closed, open (fails fast), half-open (probes)."""

    enabled: bool = field(True, description="Break circuits to failing targets")
    failure_ratio: float = field(
        0.5, description="Open at or above this share of failures in the window", gt=0, le=1
    )
    window_seconds: float = field(10.0, description="Rolling window of outcomes", gt=0)
    min_requests: int = field(
        20, description="Outcomes the window needs before the ratio counts", ge=1
    )
    consecutive_failures: int = field(
        10, description="Failures in a row that open the circuit regardless of the ratio", ge=1
    )
    open_seconds: float = field(5.0, description="Seconds open before probing", gt=0)
    half_open_probes: int = field(
        3, description="Requests let through while half-open (successes needed to close)", ge=1
    )


class ProxyRetryConfig(ConfigModel):
    """Retries of idempotent requests and of connection failures, under a budget."""

    attempts: int = field(2, description="Attempts in all, the first included (1: none)", ge=1)
    methods: list[str] = field(
        default_factory=lambda: ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"],
        description="Methods retried after the request reached a target",
    )
    statuses: list[int] = field(
        default_factory=lambda: [502, 503, 504],
        description="Target answers retried (for the methods above, requests without body)",
    )
    backoff_base: float = field(
        0.01, description="Seconds before the 2nd attempt; doubles each time (full jitter)", ge=0
    )
    backoff_max: float = field(0.5, description="Longest wait between attempts", ge=0)
    budget_ratio: float = field(
        0.2, description="Retries allowed as a share of requests in the last 10 s", ge=0, le=1
    )
    budget_min: int = field(
        10, description="Retries always allowed per 10 s, whatever the ratio", ge=0
    )

    @field_validator("methods")
    @classmethod
    def _upper(cls, methods: list[str]) -> list[str]:
        return [m.upper() for m in methods]


class UpstreamTLSConfig(ConfigModel):
    """TLS to an upstream's ``https://`` targets."""

    verify: bool = field(
        True, description="Verify the target's certificate and host name (off: any certificate)"
    )
    ca_file: str | None = field(
        None, description="PEM bundle of the CAs trusted for targets (default: the system's)"
    )
    client_cert_file: str | None = field(
        None, description="PEM certificate (chain) presented to targets that ask for one"
    )
    client_key_file: str | None = field(None, description="PEM private key of client_cert_file")
    client_key_password: Secret[str] | None = field(
        None, description="Password of an encrypted client_key_file"
    )
    server_name: str | None = field(
        None,
        description="Name sent as SNI and verified in the certificate (default: the target's "
        "host; an IP address is verified against the certificate's IP entries, without SNI)",
    )
    min_version: Literal["1.2", "1.3"] = field("1.2", description="Oldest TLS version spoken")

    @model_validator(mode="after")
    def _key_with_certificate(self) -> Self:
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("client_cert_file and client_key_file go together")
        if self.client_key_password is not None and self.client_key_file is None:
            raise ValueError("client_key_password needs client_key_file")
        return self

    @field_validator("server_name")
    @classmethod
    def _host_name(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z0-9.\-]+", name):
            raise ValueError(f"server_name {name!r} is not a host name")
        return name


class UpstreamConfig(ConfigModel):
    """A group of targets behind one balancer."""

    targets: list[TargetConfig] = field(description="The backends", min_length=1)
    balancer: Balancer = field(
        "round_robin",
        description="round_robin, weighted (smooth weighted round robin), least_outstanding, "
        "power_of_two (two random targets, the less busy), hash (consistent, sticky)",
    )
    hash_on: str = field(
        "header:x-session-id",
        description="For the hash balancer: 'header:<name>', 'cookie:<name>' or 'client_ip'",
    )
    connect_timeout: float = field(2.0, description="Seconds to connect to a target", gt=0)
    read_timeout: float = field(
        30.0, description="Seconds a target may stay silent (before and within its answer)", gt=0
    )
    max_connections: int = field(256, description="Connections per target at most", ge=1)
    pool_timeout: float = field(
        2.0, description="Seconds to wait for a free connection when all are busy (then 503)", gt=0
    )
    idle_timeout: float = field(
        4.0, description="Seconds an idle pooled connection is kept (keep under the target's)", gt=0
    )
    max_response_header_bytes: int = field(
        65536,
        description="Largest status line + headers accepted from a target (else 502)",
        ge=1024,
    )
    health_check: HealthCheckConfig = field(
        default_factory=HealthCheckConfig, description="Active health checks"
    )
    outlier: OutlierConfig = field(
        default_factory=OutlierConfig, description="Passive ejection of failing targets"
    )
    circuit_breaker: BreakerConfig = field(
        default_factory=BreakerConfig, description="Circuit breaker per target"
    )
    tls: UpstreamTLSConfig = field(
        default_factory=UpstreamTLSConfig, description="TLS to https:// targets"
    )

    @field_validator("targets", mode="before")
    @classmethod
    def _shorthand(cls, targets: Any) -> Any:
        if isinstance(targets, list):
            return [{"url": t} if isinstance(t, str) else t for t in targets]
        return targets

    @field_validator("hash_on")
    @classmethod
    def _hash_key(cls, hash_on: str) -> str:
        kind, _, name = hash_on.partition(":")
        if hash_on == "client_ip" or (kind in ("header", "cookie") and name):
            return hash_on.lower() if kind == "header" else hash_on
        raise ValueError("hash_on must be 'header:<name>', 'cookie:<name>' or 'client_ip'")


class PipelineStep(ConfigModel):
    """One step of a ``sequential`` composite: what is sent to its upstream, which may use
    the previous step's answer (``{previous.status}``, ``{previous.header.<name>}``,
    ``{previous.body.<field>.<field>}``) and the route path's parameters (``{params.<name>}``)."""

    upstream: str = field(description="Upstream asked in this step")
    method: str | None = field(None, description="Method sent (default: the client's)")
    path: str | None = field(
        None,
        description="Path (and query) sent, with placeholders: '/orders?user={previous.body.id}' "
        "(default: the client's, rewritten by the route)",
    )
    body: Literal["client", "previous", "none"] = field(
        "client",
        description="Body sent: the client's, the previous answer's (with its content type) "
        "or none",
    )
    headers: dict[str, str] = field(
        default_factory=dict, description="Request headers set, with placeholders"
    )

    @field_validator("method")
    @classmethod
    def _method(cls, method: str | None) -> str | None:
        if method is not None and not _TOKEN.match(method):
            raise ValueError(f"{method!r} is not an HTTP method")
        return method.upper() if method else None

    @field_validator("path")
    @classmethod
    def _path(cls, path: str | None) -> str | None:
        from pymodular.modules.proxy._pipeline import check_placeholders

        if path is not None:
            if not path.startswith("/") or any(c in path for c in "#\r\n "):
                raise ValueError(f"step path {path!r} must start with '/' and hold no spaces")
            check_placeholders(path)
        return path

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        from pymodular.modules.proxy._pipeline import check_placeholders

        for value in headers.values():
            check_placeholders(value)
        return _check_headers(headers)


class CompositeConfig(ConfigModel):
    """A route answered from several upstreams."""

    upstreams: list[str] = field(description="Upstreams asked, in order", min_length=1)
    steps: list[PipelineStep] | None = field(
        None,
        description="For sequential: what each step sends, using the previous answer "
        "(upstreams then defaults to the steps' upstreams)",
    )

    @model_validator(mode="before")
    @classmethod
    def _upstreams_of_steps(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("steps") and "upstreams" not in data:
            steps = data["steps"]
            if isinstance(steps, list) and all(isinstance(step, dict) for step in steps):
                return {**data, "upstreams": [step.get("upstream") for step in steps]}
        return data

    @model_validator(mode="after")
    def _steps_are_sequential(self) -> Self:
        if self.steps is None:
            return self
        if self.strategy != "sequential":
            raise ValueError("steps are for the sequential strategy")
        if [step.upstream for step in self.steps] != self.upstreams:
            raise ValueError("upstreams must name the steps' upstreams, in order (or be left out)")
        return self

    strategy: Literal["merge", "first_success", "sequential"] = field(
        "merge",
        description="merge: all at once, one JSON object keyed by upstream (or a merger's "
        "result); first_success: in order, the first answer below 500; sequential: in "
        "order, each must succeed, the last answer is returned",
    )
    merger: str | None = field(
        None, description="Name of a merger registered with ReverseProxy.add_merger (merge)"
    )
    empty_policy: Literal["allow", "skip", "fail"] = field(
        "allow",
        description="An empty answer (204 or no body): allow (null when merging), skip "
        "(left out, or the next one tried), fail (502)",
    )
    max_answer_bytes: int = field(
        1024 * 1024, description="Largest answer read from each upstream (else 502)", ge=1
    )


class ShadowConfig(ConfigModel):
    """Requests also sent to a second upstream, whose answers are compared, never returned."""

    upstream: str = field(description="Upstream that receives the copies")
    percent: float = field(
        100.0, description="Share of requests copied (requests without a body only)", ge=0, le=100
    )
    compare: bool = field(True, description="Compare status and body with the primary's answer")
    max_answer_bytes: int = field(
        1024 * 1024, description="Largest shadow answer read (a larger one is reported)", ge=1
    )


class WebSocketConfig(ConfigModel):
    """WebSocket upgrades on a route: relayed to a target, messages both ways."""

    enabled: bool = field(True, description="Relay WebSocket upgrades (off: refused with 403)")
    idle_timeout: float = field(
        300.0, description="Seconds without a message either way before both sides are closed", gt=0
    )
    max_message_bytes: int = field(
        16 * 1024 * 1024,
        description="Largest message accepted from the target (larger: closed with 1009)",
        ge=1,
    )
    ping_interval: float | None = field(
        20.0, description="Seconds between pings to the target (None: no pings)", gt=0
    )


class RouteConfig(ConfigModel):
    """Requests under ``path`` (and of ``methods``, for ``host``) go to ``upstream``."""

    path: str = field(
        description="Path prefix, matched on whole segments ('/api' not '/apix'); may hold "
        "parameters in the router's syntax: '/users/{id}/orders', '/api/{rest:path}'"
    )
    upstream: str | None = field(
        None, description="Name of the upstream (see upstreams); or give composite"
    )
    composite: CompositeConfig | None = field(
        None, description="Send to several upstreams and combine their answers"
    )
    methods: list[str] = field(
        default_factory=list, description="Methods routed (empty: every method)"
    )
    host: str | None = field(None, description="Only requests for this host (or *.domain)")
    name: str | None = field(None, description="Route name (default: the path)")
    strip_prefix: bool = field(False, description="Remove the matched prefix before forwarding")
    replace_prefix: str | None = field(
        None, description="Put this prefix in place of the matched one (implies stripping)"
    )
    rewrite: str | None = field(
        None,
        description="Path put in place of the matched part, with the path's parameters: "
        "'/v2/customers/{id}/orders' (what followed the match and the query are kept)",
    )
    host_header: str = field(
        "preserve",
        description="Host sent upstream: 'preserve' (the client's), 'target' (the target's "
        "host:port) or a literal host name",
    )
    set_headers: dict[str, str] = field(
        default_factory=dict, description="Request headers set (replacing) before forwarding"
    )
    remove_headers: list[str] = field(
        default_factory=list, description="Request headers removed before forwarding"
    )
    response_set_headers: dict[str, str] = field(
        default_factory=dict, description="Response headers set before answering the client"
    )
    response_remove_headers: list[str] = field(
        default_factory=list, description="Response headers removed before answering"
    )
    timeout: float = field(
        30.0, description="Seconds until the target's answer begins, retries included (504)", gt=0
    )
    max_body_bytes: int | None = field(
        None, description="Largest request body forwarded (413); None: the server's limit"
    )
    retry: bool = field(True, description="Apply the retry policy on this route")
    shadow: ShadowConfig | None = field(
        None, description="Copy requests to a second upstream and report differences"
    )
    feature_flag: str | None = field(
        None, description="Flag that, when on for the request, sends it to flag_upstream"
    )
    flag_upstream: str | None = field(None, description="Upstream used while feature_flag is on")
    tenant_upstreams: dict[str, str] = field(
        default_factory=dict, description="Tenant id -> upstream that serves that tenant"
    )
    websocket: WebSocketConfig = field(
        default_factory=WebSocketConfig, description="WebSocket upgrades on this route"
    )

    @property
    def upstream_names(self) -> list[str]:
        """The upstreams the route sends to (one, or a composite's, and the flag's)."""
        if self.composite is not None:
            return list(self.composite.upstreams)
        names = [self.upstream] if self.upstream else []
        if self.shadow is not None:
            names.append(self.shadow.upstream)
        return [*names, self.flag_upstream] if self.flag_upstream else names

    @model_validator(mode="after")
    def _one_destination(self) -> Self:
        if (self.upstream is None) == (self.composite is None):
            raise ValueError("a route names exactly one of upstream and composite")
        if (self.feature_flag is None) != (self.flag_upstream is None):
            raise ValueError("feature_flag and flag_upstream go together")
        if self.composite is not None and (self.feature_flag or self.shadow):
            raise ValueError("a composite route takes no feature flag and no shadow")
        return self

    @field_validator("path")
    @classmethod
    def _prefix(cls, path: str) -> str:
        from pymodular.modules.proxy._template import check_template

        if any(c in path for c in "?#\r\n "):
            raise ValueError("a route path is a prefix like '/api/users' or '/users/{id}'")
        return check_template(path)

    @model_validator(mode="after")
    def _step_parameters(self) -> Self:
        if self.composite is None or not self.composite.steps:
            return self
        from pymodular.modules.proxy._pipeline import placeholders
        from pymodular.modules.proxy._template import parameters

        captured = parameters(self.path)
        if self.composite.steps[0].body == "previous":
            raise ValueError("step 1 has no previous answer to send")
        for number, step in enumerate(self.composite.steps, 1):
            for text in (step.path or "", *step.headers.values()):
                for source, name in placeholders(text):
                    if source == "params" and name not in captured:
                        raise ValueError(
                            f"step {number} uses {{params.{name}}}, which the route path "
                            f"{self.path!r} does not capture"
                        )
                    if source == "previous" and number == 1:
                        raise ValueError("step 1 has no previous answer to use")
        return self

    @model_validator(mode="after")
    def _rewrite_parameters(self) -> Self:
        if self.rewrite is None:
            return self
        from pymodular.modules.proxy._template import check_rewrite, parameters

        if self.strip_prefix or self.replace_prefix is not None:
            raise ValueError("rewrite replaces strip_prefix and replace_prefix: give one")
        check_rewrite(self.rewrite, parameters(self.path))
        return self

    @field_validator("replace_prefix")
    @classmethod
    def _replacement(cls, prefix: str | None) -> str | None:
        if prefix is not None and (
            not prefix.startswith("/") or any(c in prefix for c in "?#\r\n ")
        ):
            raise ValueError("replace_prefix must start with '/' and hold no spaces, '?' or '#'")
        return prefix

    @field_validator("methods")
    @classmethod
    def _methods(cls, methods: list[str]) -> list[str]:
        return [m.upper() for m in methods]

    @field_validator("remove_headers", "response_remove_headers")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return [n.lower() for n in names]

    @field_validator("set_headers", "response_set_headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        return _check_headers(headers)

    @field_validator("host_header")
    @classmethod
    def _host_header(cls, value: str) -> str:
        if value in ("preserve", "target") or re.fullmatch(r"[A-Za-z0-9.\-]+(:\d+)?", value):
            return value
        raise ValueError("host_header is 'preserve', 'target' or a host name")


class ForwardedConfig(ConfigModel):
    """The ``X-Forwarded-*`` and ``Forwarded`` headers sent upstream."""

    x_forwarded: bool = field(True, description="Send X-Forwarded-For, -Proto and -Host")
    forwarded: bool = field(False, description="Send the RFC 7239 Forwarded header")
    trust_incoming: bool = field(
        False,
        description="Append to the client's X-Forwarded-*/Forwarded (only behind a trusted "
        "proxy); otherwise they are replaced",
    )


class TenantRoutingConfig(ConfigModel):
    """Which tenant a request is for, so a route's ``tenant_upstreams`` can apply."""

    source: Literal["none", "context", "header", "subdomain"] = field(
        "none",
        description="none; context: the router's tenant resolution (header, subdomain, "
        "principal); header: read 'header'; subdomain: the first label below 'domain'",
    )
    header: str = field("x-tenant-id", description="Header naming the tenant (source header)")
    domain: str = field("", description="Parent domain (source subdomain)")
    required: bool = field(False, description="Answer 400 when a proxied request has no tenant")

    @field_validator("header")
    @classmethod
    def _lower(cls, header: str) -> str:
        return header.lower()


class AdminConfig(ConfigModel):
    """A read-only JSON view of upstreams, targets, breakers and health, behind auth."""

    enabled: bool = field(False, description="Serve the admin view (needs the auth module)")
    path: str = field("/_proxy", description="Path of the admin view")
    roles: list[str] = field(
        default_factory=lambda: ["admin"],
        description="Roles a principal needs (every one) to read the view",
        min_length=1,
    )

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/") or "{" in path or any(c in path for c in "?#\r\n "):
            raise ValueError("the admin path is an absolute path without parameters")
        return path


class ProxyConfig(ConfigModel):
    """The ``proxy`` section."""

    upstreams: dict[str, UpstreamConfig] = field(
        default_factory=dict, description="Backend groups by name", dynamic=True
    )
    routes: list[RouteConfig] = field(
        default_factory=list, description="Routes to upstreams", dynamic=True
    )
    retry: ProxyRetryConfig = field(
        default_factory=ProxyRetryConfig, description="Retry policy", dynamic=True
    )
    forwarded: ForwardedConfig = field(
        default_factory=ForwardedConfig, description="Forwarding headers", dynamic=True
    )
    tenant: TenantRoutingConfig = field(
        default_factory=TenantRoutingConfig, description="Tenant routing", dynamic=True
    )
    via: str | None = field(
        None, description="Pseudonym added to the Via header of requests and answers", dynamic=True
    )
    request_id_header: str | None = field(
        "x-request-id",
        description="Header that carries the router's request id to targets (replacing the "
        "client's); the targets' own is dropped from answers. None: neither",
        dynamic=True,
    )

    @field_validator("request_id_header")
    @classmethod
    def _request_id_header(cls, header: str | None) -> str | None:
        if header is not None and not _TOKEN.match(header):
            raise ValueError(f"{header!r} is not a valid header name")
        return header.lower() if header else None

    feature_flags: dict[str, bool] = field(
        default_factory=dict,
        description="Flag values used when no registered evaluator decides",
        dynamic=True,
    )
    admin: AdminConfig = field(
        default_factory=AdminConfig, description="Admin view (off by default, behind auth)"
    )
    drain_timeout: float = field(
        30.0, description="Seconds in-flight proxied requests get when the app stops", gt=0
    )

    @model_validator(mode="after")
    def _routes_name_upstreams(self) -> Self:
        for route in self.routes:
            for name in (*route.upstream_names, *route.tenant_upstreams.values()):
                if name not in self.upstreams:
                    known = ", ".join(sorted(self.upstreams)) or "none"
                    raise ValueError(
                        f"route {route.path!r} names upstream {name!r}, which is not "
                        f"configured (upstreams: {known})"
                    )
        return self
