"""Targets and upstreams at run time: what a request may be sent to right now.

A :class:`Target` is one backend with its pool, circuit breaker, active-health verdict
and passive ejection; an :class:`Upstream` is the group a route names, with its balancer.
``Upstream.choose`` takes the targets that are eligible now — healthy, not ejected, the
circuit letting a request through — and lets the balancer pick; on a retry the targets
already tried are left out while others remain.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from pymodular.modules.proxy._balancer import Balancer, make_balancer
from pymodular.modules.proxy._breaker import Breaker
from pymodular.modules.proxy.config import TargetConfig, UpstreamConfig

__all__ = ("Target", "Upstream", "parse_url")

Emit = Callable[..., Any]


def parse_url(url: str) -> tuple[str, int, str]:
    """``http(s)://host:port/prefix`` as ``(host, port, prefix)``; ValueError when unusable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"target {url!r}: only http:// and https:// targets are supported")
    if not parts.hostname:
        raise ValueError(f"target {url!r} has no host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"target {url!r}: no query, fragment or credentials in a target URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"target {url!r}: {exc}") from None
    host = parts.hostname
    if ":" in host:
        raise ValueError(f"target {url!r}: IPv6 literals are not supported yet")
    return host, port, parts.path.rstrip("/")


class Target:
    """One backend of an upstream."""

    __slots__ = (
        "_emit",
        "breaker",
        "config",
        "ejected_until",
        "ejections",
        "failures",
        "health_fails",
        "health_passes",
        "healthy",
        "host",
        "host_header",
        "key",
        "outcome_streak",
        "outstanding",
        "pool",
        "port",
        "prefix",
        "prefix_bytes",
        "requests",
        "server_name",
        "ssl",
        "upstream",
        "weight",
    )

    def __init__(self, upstream: Upstream, config: TargetConfig, emit: Emit) -> None:
        from pymodular.modules.proxy._upstream import Pool

        self.upstream = upstream.name
        self.config = config
        self.key = config.url
        self.weight = config.weight
        self.host, self.port, self.prefix = parse_url(config.url)
        self.prefix_bytes = self.prefix.encode("latin-1")
        secure = config.url.startswith("https:")
        default_port = 443 if secure else 80
        self.host_header = (
            self.host if self.port == default_port else f"{self.host}:{self.port}"
        ).encode("latin-1")
        self.ssl = upstream.tls_context() if secure else None
        """The TLS context of an https target (None: plain HTTP)."""
        self.server_name = upstream.config.tls.server_name or self.host
        self.outstanding = 0
        self.requests = 0
        self.failures = 0
        self.breaker = Breaker(upstream.config.circuit_breaker)
        self.healthy = True
        self.health_passes = 0
        self.health_fails = 0
        self.ejected_until = 0.0
        self.ejections = 0
        self.outcome_streak = 0
        self._emit = emit
        limits = upstream.config
        self.pool = Pool(
            self.host,
            self.port,
            upstream=upstream.name,
            max_connections=limits.max_connections,
            connect_timeout=limits.connect_timeout,
            pool_timeout=limits.pool_timeout,
            idle_timeout=limits.idle_timeout,
            read_timeout=limits.read_timeout,
            max_header_bytes=limits.max_response_header_bytes,
            ssl=self.ssl,
            server_name=self.server_name,
        )

    @property
    def label(self) -> str:
        return self.pool.label

    def eligible(self, now: float) -> bool:
        return self.healthy and now >= self.ejected_until and self.breaker.available(now)

    def state(self, now: float) -> str:
        if not self.healthy:
            return "unhealthy"
        if now < self.ejected_until:
            return "ejected"
        if self.breaker.state != "closed":
            return f"circuit {self.breaker.state.replace('_', '-')}"
        return "serving"

    def describe(self, now: float) -> dict[str, Any]:
        requests, failures = self.breaker.window(now)
        return {
            "url": self.key,
            "tls": self.ssl is not None,
            "state": self.state(now),
            "healthy": self.healthy,
            "circuit": self.breaker.state,
            "ejected_for": round(max(0.0, self.ejected_until - now), 3),
            "outstanding": self.outstanding,
            "requests": self.requests,
            "failures": self.failures,
            "window": {"requests": requests, "failures": failures},
            "connections": self.pool.describe(),
        }


class Upstream:
    """A named group of targets behind one balancer."""

    def __init__(self, name: str, config: UpstreamConfig, emit: Emit) -> None:
        self.name = name
        self.config = config
        self._emit = emit
        self._tls: ssl.SSLContext | None = None
        self.targets = [Target(self, t, emit) for t in config.targets]
        self.balancer: Balancer = make_balancer(config.balancer, self.targets)
        kind, _, key_name = config.hash_on.partition(":")
        self.hash_kind = kind if config.balancer == "hash" else ""
        self.hash_name = key_name.encode("latin-1")
        self.clock: Callable[[], float] = time.monotonic

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context of this upstream's https targets (built once)."""
        if self._tls is None:
            from pymodular.modules.proxy._tls import client_context

            self._tls = client_context(self.config.tls, upstream=self.name)
        return self._tls

    def choose(self, tried: Sequence[Target], key: bytes | None) -> Target | None:
        """The target for the next attempt, or None when none is eligible."""
        now = self.clock()
        targets = self.targets
        if len(targets) == 1 and not tried:
            target = targets[0]
            if target.eligible(now) and self._admit(target, now):
                return target
            return None
        pool = [t for t in targets if t.eligible(now)]
        if tried and len(pool) > 1:
            fresh = [t for t in pool if t not in tried]
            pool = fresh or pool
        while pool:
            target = self.balancer.choose(pool, key)  # type: ignore[assignment]
            if self._admit(target, now):
                return target
            pool.remove(target)
        return None

    def _admit(self, target: Target, now: float) -> bool:
        """Let the breaker count the request; report an open circuit turning half-open."""
        breaker = target.breaker
        if breaker.state == "closed":
            return True
        before = breaker.state
        allowed = breaker.allow(now)
        if breaker.state != before:
            self._emit(f"proxy.circuit.{breaker.state}", upstream=self.name, target=target.label)
        return allowed

    def record(self, target: Target, ok: bool) -> None:
        """Count an attempt's outcome: breaker, passive ejection, events."""
        now = self.clock()
        target.requests += 1
        changed = target.breaker.record(ok, now)
        if changed is not None:
            self._emit(
                f"proxy.circuit.{changed}",
                upstream=self.name,
                target=target.label,
            )
        if ok:
            target.outcome_streak = 0
            if (
                target.ejections
                and now > target.ejected_until + self.config.outlier.max_ejection_seconds
            ):
                target.ejections = 0  # well behaved for a long while: the next ejection is short
            return
        target.failures += 1
        target.outcome_streak += 1
        outlier = self.config.outlier
        if (
            outlier.enabled
            and target.outcome_streak >= outlier.consecutive_failures
            and now >= target.ejected_until
            and self._may_eject(now)
        ):
            seconds = min(
                outlier.ejection_seconds * (2 ** min(target.ejections, 16)),
                outlier.max_ejection_seconds,
            )
            target.ejections += 1
            target.ejected_until = now + seconds
            target.outcome_streak = 0
            self._emit(
                "proxy.target.ejected",
                upstream=self.name,
                target=target.label,
                seconds=seconds,
                failures=outlier.consecutive_failures,
            )

    def forget_outcome(self, target: Target) -> None:
        """An attempt ended without an outcome (the client left): free a probe slot."""
        target.breaker.release()

    def _may_eject(self, now: float) -> bool:
        ejected = sum(1 for t in self.targets if now < t.ejected_until)
        return ejected + 1 <= max(1, int(len(self.targets) * self.config.outlier.max_ejected_ratio))

    def describe(self) -> dict[str, Any]:
        now = self.clock()
        described: dict[str, Any] = {
            "balancer": self.config.balancer,
            "targets": [t.describe(now) for t in self.targets],
        }
        if self._tls is not None:
            tls = self.config.tls
            described["tls"] = {
                "verify": tls.verify,
                "ca_file": tls.ca_file,
                "client_certificate": tls.client_cert_file,
                "server_name": tls.server_name,
                "min_version": tls.min_version,
            }
        return described

    def close(self) -> None:
        for target in self.targets:
            target.pool.close()
