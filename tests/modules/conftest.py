from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _unfreeze_gc() -> Iterator[None]:
    """A started server freezes the heap (``freeze_gc``); give the next test a normal one."""
    yield
    gc.unfreeze()
