"""Lazy package exports: names whose home module loads on first attribute access.

Used where a package re-exports something most programs never touch (PyYAML-backed
feeders, reload diffs, tenancy), so that ``import`` stays cheap (PEP 562).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ("lazy_exports",)


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports ``package.<homes[name]>``.

    The value is stored in the package's namespace, so each name loads once.
    """

    def load(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return load
