"""Build two versions of a small package and extract their contracts."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pymodular.contract import ContractDiff, compare, extract

PACKAGE = "acmelib"

Versions = Callable[..., ContractDiff]
Contract = Callable[..., dict[str, Any]]


def forget_package() -> None:
    """Drop ``acmelib`` and its submodules from ``sys.modules`` (the next import reads it anew)."""
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def write_package(root: Path, files: dict[str, str], version: str) -> None:
    """Write ``acmelib`` under ``root``: ``files`` maps relative paths to (dedented) source."""
    files = {"__init__.py": "", **files}
    for rel, source in files.items():
        path = root / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(source).lstrip("\n")
        if rel == "__init__.py":
            text += f"\n__version__ = {version!r}\n"
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def contract_of(tmp_path: Path) -> Contract:
    """``contract_of({"__init__.py": source}, version="1.0.0", **extract_options)``."""
    counter = iter(range(1000))

    def build(
        files: dict[str, str] | str, *, version: str = "1.0.0", **options: Any
    ) -> dict[str, Any]:
        root = tmp_path / f"v{next(counter)}"
        write_package(root, {"__init__.py": files} if isinstance(files, str) else files, version)
        forget_package()
        importlib.invalidate_caches()
        try:
            return extract(PACKAGE, path=root, **options)
        finally:
            forget_package()

    return build


@pytest.fixture
def versions(contract_of: Contract) -> Versions:
    """``versions(old_source, new_source, old="1.0.0", new="1.1.0")`` -> the comparison."""

    def compare_sources(
        old: dict[str, str] | str,
        new: dict[str, str] | str,
        *,
        old_version: str = "1.0.0",
        new_version: str = "1.1.0",
    ) -> ContractDiff:
        return compare(contract_of(old, version=old_version), contract_of(new, version=new_version))

    return compare_sources


def kinds(diff: ContractDiff) -> set[tuple[str, str, str]]:
    """``(impact, kind, path)`` of every change."""
    return {(c.impact.value, c.kind, c.path) for c in diff.changes}
