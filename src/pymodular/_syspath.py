"""Importing user code from a directory: put it first on ``sys.path`` for a while."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ("first_on_path",)


@contextmanager
def first_on_path(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Put ``directory`` (resolved) first on ``sys.path`` inside the block.

    Nothing changes when it is first already. Otherwise it is put in front (even when
    it is also further down, where a same-named module elsewhere could shadow it) and
    that front entry is removed afterwards; the rest of ``sys.path`` is left as it was.
    """
    entry = str(Path(directory).resolve())
    added = not sys.path or sys.path[0] != entry
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            with suppress(ValueError):
                sys.path.remove(entry)  # the first occurrence: the one put in front
