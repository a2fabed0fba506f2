"""``ReverseProxy``: the proxy's state (routes, upstreams, budget, counters) and its
request entry point, provided as the service ``"proxy"``."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from pymodular.errors import ConfigError
from pymodular.modules._http import ASGIApp, Receive, Scope, Send
from pymodular.modules.proxy._composite import Merger, serve_composite
from pymodular.modules.proxy._forward import forward, problem
from pymodular.modules.proxy._headers import bad_path, framing_of
from pymodular.modules.proxy._retry import RetryBudget
from pymodular.modules.proxy._routing import MountKey, ProxyRoute, RouteTable
from pymodular.modules.proxy._shadow import AnswerDigest, mirror
from pymodular.modules.proxy._target import Target, Upstream
from pymodular.modules.proxy._websocket import WebSocketSession, serve_websocket, until_closed
from pymodular.modules.proxy.config import ProxyConfig
from pymodular.modules.proxy.errors import ProxyConfigError

__all__ = ("ReverseProxy",)

Emit = Callable[..., Any]
FlagEvaluator = Callable[[str, str | None, Scope], bool | None]
"""``evaluator(flag, tenant, scope)``: True, False, or None for no decision."""

logger = logging.getLogger("pymodular.proxy")

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ReverseProxy:
    """Routes requests to upstreams (service ``"proxy"``; see :mod:`pymodular.modules.proxy`).

    ``apply(config)`` installs routes and upstreams (at init and on every reload: an
    upstream whose settings did not change keeps its connections, breaker and health);
    each mount point on the router calls :meth:`serve`. :meth:`drain` stops taking new
    requests and waits for those in flight.
    """

    def __init__(self, *, emit: Emit | None = None) -> None:
        self.emit: Emit = emit or (lambda *_a, **_k: None)
        self.loop = asyncio.get_running_loop()
        self.table: RouteTable | None = None
        self.config = ProxyConfig()
        self.retry = self.config.retry
        self.budget = RetryBudget(self.retry)
        self.accepting = True
        self.in_flight = 0
        self._idle: asyncio.Event | None = None
        self._retired: list[Upstream] = []
        self.stats: Counter[str] = Counter()
        self.tenant_section: Callable[[str], ProxyConfig] | None = None
        """The proxy section of a tenant's configuration (set when tenancy is on)."""
        self._tenants: dict[str, tuple[ProxyConfig, dict[str, Upstream]]] = {}
        self._mergers: dict[str, Merger] = {}
        self._evaluators: list[tuple[int, int, FlagEvaluator]] = []
        self._shadows: set[asyncio.Task[None]] = set()
        self.websockets: set[WebSocketSession] = set()
        """The WebSocket connections being relayed now."""
        self.random: Callable[[], float] = random.random

    # -- configuration --------------------------------------------------------------------

    def apply(self, config: ProxyConfig) -> list[MountKey]:
        """Install ``config``; return the mount points it has that were not mounted yet."""
        old = self.table
        upstreams: dict[str, Upstream] = {}
        for name, upstream_config in config.upstreams.items():
            previous = old.upstreams.get(name) if old else None
            if previous is not None and previous.config == upstream_config:
                upstreams[name] = previous
            else:
                upstreams[name] = Upstream(name, upstream_config, self.emit)
                if previous is not None:
                    self._retire(previous)
                    self.emit("proxy.upstream.changed", upstream=name)
                elif old is not None:
                    self.emit("proxy.upstream.added", upstream=name)
        if old is not None:
            for name, previous in old.upstreams.items():
                if name not in upstreams:
                    self._retire(previous)
                    self.emit("proxy.upstream.removed", upstream=name)
        table = RouteTable(config, upstreams)
        for tenant in list(self._tenants):
            self.forget_tenant(tenant)  # rebuilt on the tenant's next request
        before = set(old.mounts) if old else set()
        self.table = table
        self.config = config
        if config.retry != self.retry:
            self.retry = config.retry
            self.budget = RetryBudget(config.retry)
        return [key for key in table.mounts if key not in before]

    def _retire(self, upstream: Upstream) -> None:
        """Stop using an upstream: idle connections close now, busy ones when released."""
        upstream.close()
        self._retired.append(upstream)

    def add_merger(self, name: str, merger: Merger) -> None:
        """Register ``merger`` for composite ``merge`` routes that name it (``merger:``)::

            proxy.add_merger("orders_with_users", lambda parts: {...})

        It gets the parts by upstream (:class:`CompositePart`) and returns what is sent
        as JSON. Register in a module's ``init``; names are unique.
        """
        if name in self._mergers:
            raise ProxyConfigError(f"a merger named {name!r} is registered already")
        self._mergers[name] = merger

    def add_flag_evaluator(self, evaluator: FlagEvaluator, *, priority: int = 100) -> None:
        """Ask ``evaluator`` (lower ``priority`` first) whether a route's feature flag is on
        for a request: ``evaluator(flag, tenant, scope)`` returns True, False, or None for
        no decision (the next one is asked; ``feature_flags`` in the configuration is the
        last word, off when absent). An evaluator that raises counts as no decision."""
        self._evaluators.append((priority, len(self._evaluators), evaluator))
        self._evaluators.sort(key=lambda entry: entry[:2])

    def flag_on(self, flag: str, tenant: str | None, scope: Scope) -> bool:
        """Whether ``flag`` is on for this request (see :meth:`add_flag_evaluator`)."""
        for _, _, evaluator in self._evaluators:
            try:
                decision = evaluator(flag, tenant, scope)
            except Exception:
                logger.exception("flag evaluator %r failed on flag %r", evaluator, flag)
                continue
            if decision is not None:
                return bool(decision)
        return self.config.feature_flags.get(flag, False)

    # -- shadow traffic -------------------------------------------------------------------

    def sample(self, route: ProxyRoute) -> bool:
        """Whether this request of ``route`` is copied to its shadow upstream."""
        shadow = route.config.shadow
        return shadow is not None and self.random() * 100 < shadow.percent

    def digest_for(self, route: ProxyRoute) -> AnswerDigest | None:
        """A digest of the primary's answer, when the route compares answers."""
        shadow = route.config.shadow
        return AnswerDigest() if shadow is not None and shadow.compare else None

    def shadow(
        self, route: ProxyRoute, scope: Scope, status: int, digest: AnswerDigest | None
    ) -> None:
        """Copy the request to the route's shadow upstream, in the background."""
        task = self.loop.create_task(mirror(self, route, dict(scope), status, digest))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    def merger(self, name: str) -> Merger:
        """The merger registered as ``name``."""
        return self._mergers[name]

    def missing_mergers(self) -> list[str]:
        """Mergers the routes name that nobody registered."""
        table = self.table
        named = {
            r.config.composite.merger
            for r in (table.routes if table else [])
            if r.config.composite is not None and r.config.composite.merger is not None
        }
        return sorted(named - set(self._mergers))

    def upstream(self, name: str) -> Upstream:
        """The upstream ``name`` (KeyError when not configured)."""
        assert self.table is not None
        return self.table.upstreams[name]

    @property
    def upstreams(self) -> dict[str, Upstream]:
        return dict(self.table.upstreams) if self.table else {}

    def targets(self) -> list[Target]:
        return [t for u in self.upstreams.values() for t in u.targets]

    # -- serving --------------------------------------------------------------------------

    def mount_app(self, key: MountKey) -> ASGIApp:
        """The ASGI app mounted on the router for mount point ``key``."""
        return _MountPoint(self, key)

    async def serve(self, key: MountKey, scope: Scope, receive: Receive, send: Send) -> None:
        """Proxy one request that reached mount point ``key``."""
        found = self.route_for(key, scope, scope["method"])
        if isinstance(found, Refusal):
            await found.answer(scope, send)
            return
        route, upstream = found
        framing = framing_of(scope["headers"])
        limit = route.max_body_bytes
        if limit is not None and framing[0] > limit:
            await problem(scope, send, 413, f"the request body exceeds {limit} bytes")
            return
        self.in_flight += 1
        self.stats["requests"] += 1
        try:
            if route.composite is not None:
                await serve_composite(self, route, scope, receive, send)
            else:
                await forward(self, route, upstream, scope, receive, send, framing)
        finally:
            self._finished()

    async def resolve(
        self, key: MountKey, scope: Scope, send: Send, method: str
    ) -> tuple[ProxyRoute, Upstream] | None:
        """The route and upstream of a request at mount point ``key`` (feature flag and
        tenant applied); None once a problem was answered (404, 405, 400, 503)."""
        found = self.route_for(key, scope, method)
        if isinstance(found, Refusal):
            await found.answer(scope, send)
            return None
        return found

    def route_for(
        self, key: MountKey, scope: Scope, method: str
    ) -> tuple[ProxyRoute, Upstream] | Refusal:
        """:meth:`resolve` without answering: the route and upstream, or the problem to
        answer (no coroutine of its own on every request)."""
        table = self.table
        assert table is not None
        route, allowed = table.find(key, method, scope)
        if route is None:
            if allowed:
                return Refusal(
                    405,
                    f"{method} is not allowed on {scope['path']}",
                    [(b"allow", ", ".join(allowed).encode("latin-1"))],
                )
            return Refusal(404, f"no route matches {method} {scope['path']}")
        if not self.accepting:
            return Refusal(503, "the proxy is draining")
        reason = bad_path(scope["path"], scope.get("raw_path"))
        if reason is not None:
            self.stats["refused"] += 1
            return Refusal(400, reason)
        upstream = route.upstream
        tenanted = self.config.tenant.source != "none"
        tenant = self._tenant_of(scope) if tenanted else None  # read once: flag and upstream
        if (
            route.flag is not None
            and route.flag_upstream is not None
            and self.flag_on(route.flag, tenant, scope)
        ):
            upstream = route.flag_upstream
        if tenanted:
            found = self._for_tenant(route, upstream, tenant)
            if isinstance(found, Refusal):
                return found
            upstream = found
        return route, upstream

    def _for_tenant(
        self, route: ProxyRoute, upstream: Upstream, tenant: str | None
    ) -> Upstream | Refusal:
        """The upstream for the request's ``tenant``, or the problem to answer."""
        if tenant is None:
            if self.config.tenant.required:
                return Refusal(400, "the request names no tenant")
            return upstream
        if not _TENANT.match(tenant):
            return Refusal(400, "the tenant id is malformed")
        try:
            return self._tenant_upstream(route.tenant_upstreams, upstream, tenant)
        except LookupError:
            return Refusal(404, "the tenant is not known")
        except ConfigError:
            return Refusal(503, "the tenant's configuration failed to load")

    def _finished(self) -> None:
        self.in_flight -= 1
        if not self.in_flight and self._idle is not None:
            self._idle.set()

    def _tenant_of(self, scope: Scope) -> str | None:
        source = self.config.tenant
        if source.source == "context":
            from pymodular.tenancy import current_tenant_id

            return current_tenant_id()
        if source.source == "header":
            name = source.header.encode("latin-1")
            for key, value in scope["headers"]:
                if key == name:
                    return str(value.decode("latin-1").strip()) or None
            return None
        for key, value in scope["headers"]:  # subdomain
            if key == b"host":
                host = value.decode("latin-1").lower().rsplit(":", 1)[0]
                suffix = "." + source.domain.lower().strip(".")
                if host.endswith(suffix) and host != suffix[1:]:
                    label = host[: -len(suffix)]
                    return label if "." not in label else None
        return None

    def _tenant_upstream(
        self, configured: dict[str, Upstream], default: Upstream, tenant: str
    ) -> Upstream:
        """The upstream serving ``tenant`` instead of ``default``: the route's
        ``tenant_upstreams`` first, then the tenant's own configuration of the upstream."""
        found = configured.get(tenant)
        if found is not None:
            return found
        sections = self.tenant_section
        if sections is None:
            return default
        section = sections(tenant)  # LookupError: unknown tenant
        cached = self._tenants.get(tenant)
        if cached is None or cached[0] is not section:
            self.forget_tenant(tenant)
            base = self.config.upstreams
            own = {
                name: Upstream(f"{name}@{tenant}", upstream_config, self.emit)
                for name, upstream_config in section.upstreams.items()
                if base.get(name) != upstream_config
            }
            cached = self._tenants[tenant] = (section, own)
        return cached[1].get(default.name, default)

    def forget_tenant(self, tenant: str) -> None:
        """Drop the upstreams built for ``tenant`` (its configuration changed or it left)."""
        cached = self._tenants.pop(tenant, None)
        if cached is not None:
            for upstream in cached[1].values():
                self._retire(upstream)

    # -- events ---------------------------------------------------------------------------

    def emit_retry(
        self, upstream: Upstream, target: Target, method: str, reason: str, attempt: int
    ) -> None:
        self.emit(
            "proxy.request.retried",
            upstream=upstream.name,
            target=target.label,
            method=method,
            reason=reason,
            attempt=attempt,
        )

    def emit_failure(
        self, upstream: Upstream, target: Target, method: str, reason: str, *, cut: bool
    ) -> None:
        self.emit(
            "proxy.request.failed",
            upstream=upstream.name,
            target=target.label,
            method=method,
            reason=reason,
            cut=cut,
        )

    # -- stopping -------------------------------------------------------------------------

    async def drain(self, timeout: float) -> int:
        """Refuse new requests (503) and wait up to ``timeout`` seconds for those in
        flight; return how many were still running at the end."""
        self.accepting = False
        for session in list(self.websockets):
            session.close("the proxy is stopping")
        try:
            async with asyncio.timeout(timeout):
                if self.websockets:
                    await until_closed(self.websockets)
                if self.in_flight:
                    self._idle = asyncio.Event()
                    await self._idle.wait()
                if self._shadows:  # copies of answered requests: let them report
                    await asyncio.wait(set(self._shadows))
        except TimeoutError:
            pass
        return self.in_flight

    def close(self) -> None:
        """Close every pooled connection (and abandon shadow copies still running)."""
        for task in list(self._shadows):
            task.cancel()
        for tenant in list(self._tenants):
            self.forget_tenant(tenant)
        for upstream in self.upstreams.values():
            upstream.close()
        for upstream in self._retired:
            upstream.close()
        self._retired.clear()

    def describe(self) -> dict[str, Any]:
        table = self.table
        now = time.monotonic()
        requests, retries = self.budget.totals(now)
        return {
            "accepting": self.accepting,
            "in_flight": self.in_flight,
            "routes": [r.describe() for r in table.routes] if table else [],
            "upstreams": {n: u.describe() for n, u in self.upstreams.items()},
            "tenant_upstreams": {
                t: {n: u.describe() for n, u in own.items()}
                for t, (_, own) in self._tenants.items()
                if own
            },
            "retry_budget": {"requests": requests, "retries": retries},
            "websockets": self._websocket_counts(),
            "stats": dict(self.stats),
        }

    def _websocket_counts(self) -> dict[str, Any]:
        by_target: Counter[str] = Counter(
            f"{s.upstream.name} {s.target.label}" for s in self.websockets
        )
        return {"open": len(self.websockets), "by_target": dict(by_target)}


class Refusal:
    """A problem to answer instead of proxying (no route, draining, a bad path, a bad
    or unknown tenant)."""

    __slots__ = ("detail", "headers", "status")

    def __init__(
        self, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.status = status
        self.detail = detail
        self.headers = headers

    def answer(self, scope: Scope, send: Send) -> Coroutine[Any, Any, None]:
        return problem(scope, send, self.status, self.detail, headers=self.headers)


class _MountPoint:
    """What the router serves at one mount point: the proxy, told which one."""

    __slots__ = ("key", "proxy")

    def __init__(self, proxy: ReverseProxy, key: MountKey) -> None:
        self.proxy = proxy
        self.key = key

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        # Returns the coroutine to await (no frame of its own on every resume).
        if scope["type"] == "websocket":
            return serve_websocket(self.proxy, self.key, scope, receive, send)
        return self.proxy.serve(self.key, scope, receive, send)  # "http": the mount filters
