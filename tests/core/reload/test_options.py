"""ReloadOptions reject nonsense at construction."""

from __future__ import annotations

from typing import Any

import pytest

from pymodular.reload import ReloadOptions


@pytest.mark.parametrize(
    ("options", "error", "fragment"),
    [
        ({"timeout": 0}, ValueError, "timeout must be greater than 0"),
        ({"debounce": -1}, ValueError, "debounce must be a finite number"),
        ({"timeout": float("inf")}, ValueError, "finite"),
        ({"timeout": "5"}, TypeError, "number of seconds"),
        ({"breaker_threshold": 0}, ValueError, "breaker_threshold"),
        ({"breaker_base_delay": 10, "breaker_max_delay": 5}, ValueError, "breaker_max_delay"),
        ({"watch_paths": "config.yaml"}, TypeError, "not one string"),
    ],
)
def test_invalid_options_are_rejected(
    options: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        ReloadOptions(**options)


def test_defaults() -> None:
    options = ReloadOptions(watch_paths=["a.yaml"])
    assert (options.timeout, options.debounce, options.breaker_threshold) == (10.0, 0.5, 3)
    assert options.watch_paths == ("a.yaml",)
