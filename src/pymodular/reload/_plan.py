"""Deciding what a reload does from a diff: pure, no awaits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pymodular.config import ConfigDiff

if TYPE_CHECKING:
    from pymodular._registration import ModuleRecord

__all__ = ("ReloadPlan", "ReloadStep", "invert", "plan_reload")


@dataclass(frozen=True, slots=True)
class ReloadStep:
    """One module whose section changed: its record, section and scoped diff."""

    record: ModuleRecord
    section: str
    diff: ConfigDiff

    @property
    def calls_reload(self) -> bool:
        """Whether the module implements ``Reloadable`` (else only its config is swapped)."""
        return self.record.reloadable


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """``restart_required`` fields reject the reload; otherwise ``steps`` run in order."""

    restart_required: tuple[str, ...]
    steps: tuple[ReloadStep, ...]


def plan_reload(diff: ConfigDiff, records: Sequence[ModuleRecord]) -> ReloadPlan:
    """Plan a reload of ``diff`` over ``records`` (given in start order).

    Any change to a field not marked dynamic makes the plan a rejection listing every
    such field. Otherwise each module with a config section that changed becomes a
    step, in start order, carrying only its section's changes.
    """
    static = tuple(c.path for c in diff.changes if not c.dynamic)
    if static:
        return ReloadPlan(static, ())
    sections = diff.sections
    steps = tuple(
        ReloadStep(record, section, diff.scoped(section))
        for record in records
        if record.module.config_model is not None and (section := record.module.section) in sections
    )
    return ReloadPlan((), steps)


def invert(diff: ConfigDiff, *, scope: str | None = None) -> ConfigDiff:
    """The diff that undoes ``diff`` (``diff.inverted()``), scoped to ``scope`` if given."""
    undone = diff.inverted()
    if scope is not None:
        undone.scope = scope
    return undone
