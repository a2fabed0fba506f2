"""Optional packages: which extra installs them, and one error when they are missing.

A bundled module names what it needs with :class:`Extra` (``extra = Extra("redis",
"redis")`` on the module class, checked at registration), and an engine chosen by
configuration checks its own with :meth:`Extra.require` when it is built. Either way
the user reads the same message: what needs the packages, which are missing, and the
``pip install`` line that fixes it. Nothing is imported to find out.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from pymodular.errors import MissingExtraError

__all__ = ("Extra",)


@dataclass(frozen=True, slots=True)
class Extra:
    """The pymodular extra ``name`` and the import names of the packages it installs."""

    name: str
    packages: tuple[str, ...]

    def __init__(self, name: str, *packages: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "packages", packages or (name,))

    def missing(self) -> list[str]:
        """The import names among :attr:`packages` that cannot be found."""
        return [p for p in self.packages if not _installed(p)]

    def require(self, feature: str, **context: str | None) -> None:
        """Raise :class:`MissingExtraError` naming ``feature`` if a package is missing."""
        missing = self.missing()
        if missing:
            raise MissingExtraError(
                f"{feature} needs {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed: "
                f'pip install "pymodular[{self.name}]"',
                extra=self.name,
                packages=missing,
                **context,
            )


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a parent package that is missing or broken
        return False
