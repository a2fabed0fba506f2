"""Contract verifiers: does a module keep the reload, health and drain contracts?

Each verifier runs against a started application (``app_harness``) and returns the
violations it found — an empty list when the module keeps the contract::

    async with app_harness([Cache()], config=..., health=True, dynamic_reload=True) as (app, _):
        assert await verify_reload_contract(app, "cache") == []
        assert await verify_health_contract(app, "cache") == []
        assert await verify_drain_contract(app, "cache", submit=put_one) == []

The rules (the original framework's, adapted):

- reload: a timeout bounds it (the module's ``reload_timeout`` or the reloader's);
  ``reload`` of an empty diff succeeds twice within it; many concurrent calls all
  succeed.
- health: ``health_report`` answers a :class:`~pymodular.health.HealthResult` within
  its timeout; the module has a name and, with health enabled, its entry is there;
  cancelling a report in progress cancels it promptly (the reporter does not swallow
  the cancellation).
- drain: ``drain`` returns within the drain timeout and may be called again; given
  ``submit`` (one unit of work through the module), work submitted before the drain
  finishes and work submitted after it is refused.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymodular.errors import error_text
from pymodular.module import Drainable, HealthReporter, Module, Reloadable

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = (
    "ContractViolation",
    "verify_drain_contract",
    "verify_health_contract",
    "verify_reload_contract",
)

_CANCEL_BOUND = 1.0  # seconds a cancelled health report may take to end


@dataclass(frozen=True)
class ContractViolation:
    """One broken rule: which contract, which rule, which module, what happened."""

    contract: str
    rule: str
    module: str
    description: str

    def __str__(self) -> str:
        return f"{self.module}: {self.contract} contract, {self.rule}: {self.description}"


class _Report:
    def __init__(self, contract: str, module: Module[Any]) -> None:
        self.contract = contract
        self.module = module
        self.violations: list[ContractViolation] = []

    def fail(self, rule: str, description: str) -> None:
        name = self.module.name or type(self.module).__qualname__
        self.violations.append(ContractViolation(self.contract, rule, name, description))

    async def bounded(
        self,
        rule: str,
        what: str,
        call: Callable[[], Awaitable[Any]],
        bound: float,
        *,
        late: str | None = None,
    ) -> tuple[bool, Any]:
        """Await ``call()`` under ``bound`` seconds: ``(True, result)``, or a violation.

        A call that raises breaks ``rule``; one that outlasts ``bound`` breaks ``late``
        (default: ``rule``).
        """
        try:
            async with asyncio.timeout(bound):
                return True, await call()
        except TimeoutError:
            self.fail(late or rule, f"{what} took more than {bound:g} s")
        except Exception as exc:  # noqa: BLE001 - the violation names it
            self.fail(rule, f"{what} raised {error_text(exc)}")
        return False, None


def _module(app: Application, module: str | Module[Any]) -> Module[Any]:
    return app.module(module) if isinstance(module, str) else module


def _option(app: Application, section: str, name: str) -> Any:
    """A setting of one of the app's components, read from its public inspect section."""
    return app.inspect().get(section, {}).get("options", {}).get(name)


async def verify_reload_contract(
    app: Application, module: str | Module[Any], *, concurrency: int = 25
) -> list[ContractViolation]:
    """Check the reload contract of ``module`` (a name or the module) in running ``app``."""
    from pymodular.config import ConfigDiff  # not at import: the kit stays light

    target = _module(app, module)
    report = _Report("reload", target)
    if not isinstance(target, Reloadable):
        report.fail("reloadable", "the module has no reload(diff) method")
        return report.violations
    bound = target.reload_timeout or _option(app, "reload", "timeout")
    if not isinstance(bound, int | float) or not math.isfinite(bound) or bound <= 0:
        report.fail(
            "timeout-set",
            f"no finite reload timeout bounds it (reload_timeout={target.reload_timeout!r}; "
            "enable dynamic_reload or set reload_timeout)",
        )
        bound = 5.0

    async def empty_reload() -> None:
        await target.reload(ConfigDiff(scope=target.section))

    async def concurrently() -> list[Any]:
        calls = (empty_reload() for _ in range(concurrency))
        return await asyncio.gather(*calls, return_exceptions=True)

    for attempt in ("first", "second"):
        await report.bounded("empty-reload", f"the {attempt} empty reload", empty_reload, bound)
    what = f"{concurrency} concurrent reloads"
    done, outcomes = await report.bounded("concurrent-reload", what, concurrently, bound * 2)
    if done:
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            report.fail(
                "concurrent-reload",
                f"{len(errors)} of {concurrency} concurrent reloads raised, first: "
                f"{error_text(errors[0])}",
            )
    return report.violations


async def verify_health_contract(
    app: Application, module: str | Module[Any]
) -> list[ContractViolation]:
    """Check the health contract of ``module`` in running ``app``."""
    from pymodular.health import HealthOptions, HealthResult

    target = _module(app, module)
    report = _Report("health", target)
    if not isinstance(target, HealthReporter):
        report.fail("reporter", "the module has no health_report() method")
        return report.violations
    bound = target.health_timeout or _option(app, "health", "timeout") or HealthOptions().timeout
    done, result = await report.bounded(
        "answers-in-time", "health_report()", target.health_report, bound
    )
    if done and not isinstance(result, HealthResult):
        report.fail("answers-in-time", f"health_report() returned {type(result).__name__}")
    if not target.name:
        report.fail("names-itself", "the module has no name to report under")
    elif app.health is not None:
        snapshot = await app.health.evaluate()
        if target.name not in {entry.name for entry in snapshot.modules}:
            report.fail("names-itself", f"no health entry is named {target.name!r}")
    await _check_cancellation(target.health_report, report)
    return report.violations


async def _check_cancellation(call: Callable[[], Awaitable[Any]], report: _Report) -> None:
    async def run() -> Any:
        return await call()

    task = asyncio.get_running_loop().create_task(run())
    await asyncio.sleep(0)  # let it begin
    if task.done():
        return  # it answered without waiting: nothing to cancel
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=_CANCEL_BOUND)
    if not done:
        report.fail(
            "honours-cancellation", f"a cancelled report still ran after {_CANCEL_BOUND:g} s"
        )
        return
    if not task.cancelled():
        error = task.exception()
        what = f"raised {error_text(error)}" if error is not None else "returned normally"
        report.fail("honours-cancellation", f"a cancelled report {what} instead of ending")


async def verify_drain_contract(
    app: Application,
    module: str | Module[Any],
    *,
    submit: Callable[[], Awaitable[Any]] | None = None,
    arrived: Callable[[], bool] | None = None,
    within: float | None = None,
) -> list[ContractViolation]:
    """Check the drain contract of ``module``; this drains it (the app then stops as usual).

    ``submit`` does one unit of work through the module (a request, a message): one is
    started before the drain and must finish, one after the drain must be refused
    (raise). ``arrived`` tells when that first unit has reached the module (default:
    as soon as it has begun). ``within`` bounds each drain (default: the app's
    ``drain_timeout``).
    """
    target = _module(app, module)
    report = _Report("drain", target)
    if not isinstance(target, Drainable):
        report.fail("drainable", "the module has no drain() method")
        return report.violations
    bound = within if within is not None else app.drain_timeout
    in_flight: asyncio.Task[Any] | None = None
    if submit is not None:
        in_flight = asyncio.get_running_loop().create_task(_call(submit))
        try:
            async with asyncio.timeout(bound):
                await asyncio.sleep(0)  # let the work begin
                while arrived is not None and not arrived() and not in_flight.done():  # noqa: ASYNC110 - the caller's predicate has no event to await
                    await asyncio.sleep(0)
        except TimeoutError:
            report.fail("finishes-work", f"the work did not reach the module within {bound:g} s")
    await report.bounded("returns-in-time", "the first drain", target.drain, bound)
    second = "the second drain"
    await report.bounded("idempotent", second, target.drain, bound, late="returns-in-time")
    if in_flight is not None and submit is not None:
        done, _ = await asyncio.wait({in_flight}, timeout=bound)
        if not done:
            in_flight.cancel()
            report.fail("finishes-work", "work submitted before the drain did not finish")
        elif in_flight.exception() is not None:
            error = in_flight.exception()
            assert error is not None
            report.fail("finishes-work", f"work in flight failed: {error_text(error)}")
        try:
            async with asyncio.timeout(bound):
                await submit()
        except TimeoutError:
            report.fail("refuses-work", "work submitted after the drain hung instead of failing")
        except Exception:  # noqa: BLE001, S110 - refused, as it should be
            pass
        else:
            report.fail("refuses-work", "work submitted after the drain was accepted")
    return report.violations


async def _call(submit: Callable[[], Awaitable[Any]]) -> Any:
    return await submit()
