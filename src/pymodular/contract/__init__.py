"""Public API contracts: extract a package's API, compare two versions (FR-050).

::

    from pymodular.contract import compare, extract

    old = extract("mypackage")            # or load("old-contract.json")
    ...                                   # change the code, bump the version
    diff = compare(old, extract("mypackage"))
    diff.verdict                          # Impact.BREAKING / ADDITIVE / NONE
    diff.policy_violations()              # what docs/versioning.md forbids

The ``pymodular contract extract`` and ``pymodular contract diff`` commands wrap these
functions for release checks.
"""

from pymodular.contract._change import Change, ContractDiff, Impact, required_bump
from pymodular.contract._diff import compare
from pymodular.contract._errors import ContractError, ContractFormatError, ContractImportError
from pymodular.contract._extract import SCHEMA, describe_object, extract
from pymodular.contract._render import load, render

__all__ = (
    "SCHEMA",
    "Change",
    "ContractDiff",
    "ContractError",
    "ContractFormatError",
    "ContractImportError",
    "Impact",
    "compare",
    "describe_object",
    "extract",
    "load",
    "render",
    "required_bump",
)
