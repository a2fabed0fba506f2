"""Active health checks: a ``GET <path>`` to every target of an upstream, on an interval.

A target leaves the rotation after ``unhealthy_threshold`` failed checks in a row (a
connect error, a timeout, an unexpected status) and comes back after
``healthy_threshold`` passes in a row; each change is an event
(``proxy.target.unhealthy`` / ``proxy.target.healthy``). Checks use their own short-lived
connections (opened by the target's pool, outside its count and never pooled), so a
check neither waits behind traffic nor leaves a half-read answer on a pooled connection.
One task per upstream checks its targets concurrently; a reload that changes an upstream
replaces its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymodular.modules.proxy.errors import UpstreamError

if TYPE_CHECKING:
    from pymodular.modules.proxy._proxy import ReverseProxy
    from pymodular.modules.proxy._target import Target, Upstream
    from pymodular.modules.proxy._upstream import Connection

__all__ = ("HealthChecks", "check_target", "judge")

logger = logging.getLogger("pymodular.proxy")

Emit = Callable[..., Any]

_MAX_CHECK_BODY = 64 * 1024


def judge(
    target: Target, passed: bool, healthy_threshold: int, unhealthy_threshold: int
) -> bool | None:
    """Count one check of ``target``; return the new verdict when it changed."""
    if passed:
        target.health_fails = 0
        target.health_passes += 1
        if not target.healthy and target.health_passes >= healthy_threshold:
            target.healthy = True
            return True
        return None
    target.health_passes = 0
    target.health_fails += 1
    if target.healthy and target.health_fails >= unhealthy_threshold:
        target.healthy = False
        return False
    return None


async def check_target(
    target: Target, path: str, timeout: float, expected: list[int]
) -> str | None:
    """Check ``target`` once; None when healthy, else why not."""
    connection: Connection | None = None
    try:
        async with asyncio.timeout(timeout):
            connection = await target.pool.open_connection(timeout, counted=False)
            head = (
                f"GET {target.prefix}{path} HTTP/1.1\r\n".encode("latin-1")
                + b"host: "
                + target.host_header
                + b"\r\nuser-agent: pymodular-proxy-health\r\nconnection: close\r\n\r\n"
            )
            answer = connection.start(head, no_body=False)
            await answer.head(timeout)
            read = 0
            while read <= _MAX_CHECK_BODY:
                data = await answer.read(timeout)
                if not data:
                    break
                read += len(data)
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except UpstreamError as exc:
        return str(exc)
    finally:
        if connection is not None:
            connection.close()
    if answer.status not in expected:
        return f"status {answer.status}, expected {', '.join(map(str, expected))}"
    return None


class HealthChecks:
    """One checking task per upstream with ``health_check.enabled``."""

    def __init__(self, proxy: ReverseProxy, *, emit: Emit) -> None:
        self.proxy = proxy
        self.emit = emit
        self.tasks: dict[int, tuple[Upstream, asyncio.Task[None]]] = {}
        self.stopped = False

    def sync(self) -> None:
        """Check the upstreams configured now: start new tasks, cancel stale ones."""
        if self.stopped:
            return
        wanted = {id(u): u for u in self.proxy.upstreams.values() if u.config.health_check.enabled}
        for key in list(self.tasks):
            if key not in wanted:
                _, task = self.tasks.pop(key)
                task.cancel()
        for key, upstream in wanted.items():
            if key not in self.tasks:
                task = asyncio.get_running_loop().create_task(
                    self._run(upstream), name=f"proxy health checks: {upstream.name}"
                )
                self.tasks[key] = (upstream, task)

    async def _run(self, upstream: Upstream) -> None:
        config = upstream.config.health_check
        while True:
            results = await asyncio.gather(
                *(
                    check_target(t, config.path, config.timeout, config.expected_statuses)
                    for t in upstream.targets
                )
            )
            for target, failure in zip(upstream.targets, results, strict=True):
                self._verdict(upstream, target, failure)
            await asyncio.sleep(config.interval)

    def _verdict(self, upstream: Upstream, target: Target, failure: str | None) -> None:
        config = upstream.config.health_check
        changed = judge(
            target, failure is None, config.healthy_threshold, config.unhealthy_threshold
        )
        if changed is True:
            logger.info("target %s of upstream %r is healthy again", target.label, upstream.name)
            self.emit("proxy.target.healthy", upstream=upstream.name, target=target.label)
        elif changed is False:
            logger.warning(
                "target %s of upstream %r is unhealthy: %s", target.label, upstream.name, failure
            )
            self.emit(
                "proxy.target.unhealthy",
                upstream=upstream.name,
                target=target.label,
                reason=failure,
            )

    async def stop(self) -> None:
        """Cancel every task and wait for them."""
        self.stopped = True
        tasks = [task for _, task in self.tasks.values()]
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
