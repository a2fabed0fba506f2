from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _unfreeze_gc() -> Iterator[None]:
    """A started server freezes the heap (``freeze_gc``) and raises the young-generation
    threshold (``gc_young_threshold``); give the next test a normal collector."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
