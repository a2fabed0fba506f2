"""Importing user code from a directory: put it first on ``sys.path`` for a while."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ("first_on_path",)


@contextmanager
def first_on_path(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Put ``directory`` (resolved) first on ``sys.path`` inside the block.

    Nothing changes when it is there already; an entry this added is removed afterwards.
    """
    entry = str(Path(directory).resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)
