"""The backend pattern: engines registered by name, imported when chosen."""

from __future__ import annotations

import sys

import pytest

from pymodular import ConfigError, Extra, MissingExtraError, RegistrationError
from pymodular.modules._backends import BackendRegistry


class Engine:
    def __init__(self, size: int = 1) -> None:
        self.size = size


def test_a_callable_factory_creates_the_backend_with_the_given_arguments() -> None:
    engines: BackendRegistry[Engine] = BackendRegistry("test engine")
    engines.register("memory", Engine)
    created = engines.create("memory", size=3)
    assert isinstance(created, Engine)
    assert created.size == 3
    assert "memory" in engines
    assert engines.names() == ["memory"]


def test_an_import_path_is_imported_only_when_the_engine_is_chosen() -> None:
    engines: BackendRegistry[object] = BackendRegistry("test engine")
    engines.register("fractions", "fractions:Fraction")
    sys.modules.pop("fractions", None)
    assert "fractions" not in sys.modules
    assert str(engines.create("fractions", 1, 3)) == "1/3"
    assert "fractions" in sys.modules


def test_an_unknown_engine_is_a_config_error_naming_the_field_and_the_known_ones() -> None:
    engines: BackendRegistry[Engine] = BackendRegistry("cache backend")
    engines.register("memory", Engine)
    engines.register("redis", Engine)
    with pytest.raises(ConfigError) as info:
        engines.create("rdis", field="cache.backend")
    assert str(info.value) == (
        "unknown cache backend 'rdis' (known: memory, redis); did you mean 'redis'?"
    )
    assert info.value.field == "cache.backend"


def test_an_engine_whose_packages_are_missing_names_the_extra() -> None:
    engines: BackendRegistry[Engine] = BackendRegistry("cache backend")
    engines.register("ghost", Engine, extra=Extra("ghost", "pymodular_no_such_driver"))
    with pytest.raises(MissingExtraError, match=r'pip install "pymodular\[ghost\]"') as info:
        engines.create("ghost", field="cache.backend")
    assert info.value.field == "cache.backend"


def test_names_are_unique_unless_replaced_and_import_paths_are_checked() -> None:
    engines: BackendRegistry[Engine] = BackendRegistry("test engine")
    engines.register("memory", Engine)
    with pytest.raises(RegistrationError, match="already registered"):
        engines.register("memory", Engine)
    engines.register("memory", lambda: Engine(7), replace=True)
    assert engines.create("memory").size == 7
    with pytest.raises(RegistrationError, match="package.module:attribute"):
        engines.register("bad", "no_colon_here")
    with pytest.raises(RegistrationError, match="non-empty name"):
        engines.register("", Engine)
    assert repr(engines) == "<BackendRegistry 'test engine' names=['memory']>"
