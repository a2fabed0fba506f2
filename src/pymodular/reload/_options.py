"""``ReloadOptions``: timeouts, the file watcher and the failure circuit breaker."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from pymodular._seconds import check_seconds

__all__ = ("ReloadOptions",)


@dataclass(frozen=True, slots=True)
class ReloadOptions:
    """Settings of dynamic reload (``Application(dynamic_reload=ReloadOptions(...))``).

    - ``timeout``: seconds each module's ``reload`` may take (default 10); a module may
      set ``reload_timeout``. A module that takes longer fails the reload.
    - ``watch``: watch the files of the file feeders (and ``watch_paths``) and reload
      when they change (needs ``pymodular[reload]``, i.e. watchfiles).
    - ``watch_paths``: extra files or directories to watch.
    - ``debounce``: seconds of quiet after a change before reloading (default 0.5), so
      an editor's several writes make one reload.
    - ``breaker_threshold``: consecutive failures after which automatic (file-watch)
      triggers pause (default 3); ``breaker_base_delay`` (default 2 s) doubles with each
      further failure up to ``breaker_max_delay`` (default 120 s). Reloads asked for
      explicitly (``await app.reload()``, SIGHUP) always run.
    - ``collect_in_thread``: read and validate the candidate configuration in a worker
      thread so parsing large files does not stall the event loop (default true).
    """

    timeout: float = 10.0
    watch: bool = False
    watch_paths: Sequence[str | os.PathLike[str]] = ()
    debounce: float = 0.5
    breaker_threshold: int = 3
    breaker_base_delay: float = 2.0
    breaker_max_delay: float = 120.0
    collect_in_thread: bool = True

    def __post_init__(self) -> None:
        for name in ("timeout", "debounce", "breaker_base_delay", "breaker_max_delay"):
            check_seconds("ReloadOptions", name, getattr(self, name))
        if self.timeout <= 0:
            raise ValueError(f"ReloadOptions.timeout must be greater than 0, got {self.timeout!r}")
        threshold = self.breaker_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError(
                f"ReloadOptions.breaker_threshold must be an int >= 1, got {threshold!r}"
            )
        if self.breaker_max_delay < self.breaker_base_delay:
            raise ValueError("ReloadOptions.breaker_max_delay must be >= breaker_base_delay")
        if isinstance(self.watch_paths, str | bytes):
            raise TypeError("ReloadOptions.watch_paths must be a sequence of paths, not one string")
        object.__setattr__(self, "watch_paths", tuple(self.watch_paths))
