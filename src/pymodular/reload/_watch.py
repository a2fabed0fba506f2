"""Watching configuration files (watchfiles) and reloading when they change."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ("ConfigWatcher", "WatchTarget", "watch_targets")

logger = logging.getLogger("pymodular.reload")


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """A file (its directory is watched, filtered to the file) or a directory tree."""

    path: Path
    directory: bool


def watch_targets(
    feeders: Iterable[Any],
    extra: Sequence[str | os.PathLike[str]] = (),
    *,
    trees: Sequence[str | os.PathLike[str]] = (),
) -> list[WatchTarget]:
    """What to watch for ``feeders``: their files (``path``), trees (``root``) and ``extra``.

    A feeder may also offer ``watch_paths()`` returning the paths it reads. ``trees``
    are directories watched whole even before they exist (tenant directories).
    """
    found: list[WatchTarget] = []
    for feeder in feeders:
        custom = getattr(feeder, "watch_paths", None)
        if callable(custom):
            found.extend(_target(Path(p)) for p in custom())
        elif isinstance(getattr(feeder, "path", None), str | os.PathLike):
            found.append(WatchTarget(Path(feeder.path).absolute(), directory=False))
        elif isinstance(getattr(feeder, "root", None), str | os.PathLike):
            found.append(WatchTarget(Path(feeder.root).absolute(), directory=True))
    found.extend(_target(Path(p)) for p in extra)
    found.extend(WatchTarget(Path(p).absolute(), directory=True) for p in trees)
    return list(dict.fromkeys(found))


def _target(path: Path) -> WatchTarget:
    path = path.absolute()
    return WatchTarget(path, directory=path.is_dir())


class ConfigWatcher:
    """Calls ``on_change(paths)`` once changes to the targets settle for ``debounce`` s.

    Files are watched through their directory, so editors that save by writing a
    new file and renaming it over the old one are seen too. A directory that does
    not exist is reported in the log and skipped.
    """

    def __init__(
        self,
        targets: Sequence[WatchTarget],
        on_change: Callable[[frozenset[str]], None],
        *,
        debounce: float = 0.5,
    ) -> None:
        self.targets = tuple(targets)
        self.on_change = on_change
        self.debounce = debounce
        self._files = frozenset(_real(t.path) for t in self.targets if not t.directory)
        self._trees = tuple(_real(t.path) for t in self.targets if t.directory)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()
        """Set once every watch has started (tests and tools wait on it)."""

    def describe(self) -> list[str]:
        """The watched paths, for ``app.inspect()``."""
        return [str(t.path) + ("/" if t.directory else "") for t in self.targets]

    def matches(self, path: str) -> bool:
        """Whether a changed ``path`` is one of the watched files or inside a watched tree."""
        real = _real(Path(path))
        if real in self._files:
            return True
        return any(real == tree or real.startswith(tree + os.sep) for tree in self._trees)

    async def start(self) -> None:
        """Start watching (returns once the watches are set up)."""
        for existing, recursive in self._groups():
            started = asyncio.Event()
            task = asyncio.get_running_loop().create_task(
                self._watch(existing, recursive, started), name="pymodular-config-watch"
            )
            self._tasks.append(task)
            waiting = asyncio.ensure_future(started.wait())
            await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if task.done():
                task.result()  # raise what stopped it
        self.ready.set()

    def _groups(self) -> list[tuple[list[str], bool]]:
        """Existing directories to watch: files' parents (flat), then trees (recursive)."""
        parents = sorted({str(Path(f).parent) for f in self._files})
        groups: list[tuple[list[str], bool]] = []
        for paths, recursive in ((parents, False), (sorted(self._trees), True)):
            existing = [p for p in paths if os.path.isdir(p)]
            for missing in sorted(set(paths) - set(existing)):
                logger.warning("cannot watch %s for config changes: no such directory", missing)
            if existing:
                groups.append((existing, recursive))
        return groups

    async def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _watch(self, paths: list[str], recursive: bool, started: asyncio.Event) -> None:
        from watchfiles import awatch  # the reloader checked its extra when it was created

        step = max(1, int(self.debounce * 1000))
        watcher = awatch(
            *paths,
            watch_filter=lambda _change, path: self.matches(path),
            step=step,
            debounce=max(step * 10, 1600),
            stop_event=self._stop,
            recursive=recursive,
            rust_timeout=100,
            yield_on_timeout=True,
        )
        try:
            async for changes in watcher:
                started.set()
                if changes:
                    self.on_change(frozenset(path for _change, path in changes))
        except Exception:
            logger.exception("configuration watcher stopped")
            raise


def _real(path: Path | str) -> str:
    return os.path.realpath(path)
