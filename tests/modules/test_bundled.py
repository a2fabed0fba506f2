"""The table of bundled modules the core names in its hints matches the modules."""

from __future__ import annotations

import importlib
import pkgutil

import pymodular.modules
from pymodular import Module
from pymodular._bundled import BUNDLED


def test_every_bundled_module_is_in_the_table_under_its_name_and_section() -> None:
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(pymodular.modules.__path__):
        if info.name.startswith("_") or not info.ispkg:
            continue
        package = importlib.import_module(f"pymodular.modules.{info.name}")
        for attr in package.__all__:
            value = getattr(package, attr)
            if isinstance(value, type) and issubclass(value, Module) and value.name == info.name:
                found[info.name] = attr
                assert value.config_section in (None, info.name)
    assert found == BUNDLED
