"""``Application.run``: an event loop, signal handling and an exit code."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from pymodular.errors import PymodularError
from pymodular.logs import configure_logging

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("run_application",)

logger = logging.getLogger("pymodular.run")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if loop == "asyncio":
        return None
    if loop == "uvloop" or (loop == "auto" and importlib.util.find_spec("uvloop") is not None):
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return None


def run_application(
    app: Application,
    *,
    loop: str,
    log_level: int | str | None,
    log_format: str = "text",
    sighup: Callable[[], None] | None = None,
) -> int:
    """Run ``app`` until SIGINT/SIGTERM and return the exit code; SIGHUP calls ``sighup``."""
    if log_level is not None:
        configure_logging(log_level, json_lines=log_format == "json")
    with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
        return runner.run(_main(app, sighup))


async def _main(app: Application, hup: Callable[[], None] | None) -> int:
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop_requested.set)
            signals.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread / platform
            pass
    if hup is not None and hasattr(signal, "SIGHUP"):
        try:
            loop.add_signal_handler(signal.SIGHUP, hup)
            signals.append(signal.SIGHUP)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        return await _serve(app, stop_requested)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _serve(app: Application, stop_requested: asyncio.Event) -> int:
    starting = asyncio.ensure_future(app.start())
    waiting = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        logger.warning("interrupted during start; stopping what started")
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        return EXIT_INTERRUPTED
    try:
        starting.result()
    except PymodularError as exc:
        waiting.cancel()
        logger.error("%s failed to start: %s", app.name, exc)
        return EXIT_FAILED
    except Exception:  # the start rolled back already; show where it came from
        waiting.cancel()
        logger.exception("%s failed to start", app.name)
        return EXIT_FAILED
    count = len(app.order)
    logger.info(
        "%s is running (%d module%s); send SIGINT or SIGTERM to stop",
        app.name,
        count,
        "" if count == 1 else "s",
    )
    await waiting
    logger.info("stopping %s", app.name)
    try:
        await app.stop()
    except PymodularError as exc:
        logger.error("%s failed to stop cleanly: %s", app.name, exc)
        return EXIT_FAILED
    except Exception:
        logger.exception("%s failed to stop cleanly", app.name)
        return EXIT_FAILED
    return EXIT_OK
