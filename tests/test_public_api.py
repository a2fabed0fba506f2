"""Every package's __all__ is complete and every public name imports."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import pymodular

PACKAGES = sorted(
    info.name
    for info in pkgutil.walk_packages(pymodular.__path__, "pymodular.")
    if info.ispkg and not any(part.startswith("_") for part in info.name.split("."))
)


@pytest.mark.parametrize("name", ["pymodular", *PACKAGES])
def test_all_is_a_sorted_tuple_of_importable_names(name: str) -> None:
    package = importlib.import_module(name)  # the dev extra installs every optional package
    exported = package.__all__
    assert isinstance(exported, tuple)
    for public in exported:
        assert hasattr(package, public), f"{name}.{public} is in __all__ but missing"


@pytest.mark.parametrize("name", ["pymodular", *PACKAGES])
def test_all_lists_every_public_name_defined_or_imported(name: str) -> None:
    package = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(package).items()
        if not attr.startswith("_")
        and not isinstance(value, type(pymodular))
        and attr not in {"annotations", "TYPE_CHECKING"}
    }
    missing = public - set(package.__all__)
    assert not missing, f"{name} exposes names missing from __all__: {sorted(missing)}"
