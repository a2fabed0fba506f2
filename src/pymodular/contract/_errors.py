"""Errors of API-contract extraction and comparison."""

from __future__ import annotations

from pymodular.errors import PymodularError

__all__ = ("ContractError", "ContractFormatError", "ContractImportError")


class ContractError(PymodularError):
    """An API contract could not be extracted, read or compared."""

    category = "contract"


class ContractImportError(ContractError, ImportError):
    """A module of the package could not be imported; ``module`` names it."""


class ContractFormatError(ContractError, ValueError):
    """A contract file is not valid JSON or not a pymodular contract; ``source`` names it."""
