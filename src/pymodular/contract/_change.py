"""The result of comparing two API contracts: changes, verdict and the versioning policy."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pymodular._text import with_article
from pymodular._version import parse_version

__all__ = ("Change", "ContractDiff", "Impact", "required_bump")


class Impact(enum.StrEnum):
    """How a change affects users of the old API."""

    BREAKING = "breaking"
    ADDITIVE = "additive"
    NONE = "none"


@dataclass(frozen=True)
class Change:
    """One difference between two contracts.

    ``path`` is dotted (``pymodular.module.Module.start``), ``kind`` a short code
    (``removed``, ``parameter-required``, ...). For removals of deprecated API,
    ``deprecated`` holds the old announcement (``since``, ``removed_in``).
    """

    impact: Impact
    kind: str
    path: str
    message: str
    deprecated: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        data: dict[str, Any] = {
            "impact": self.impact.value,
            "kind": self.kind,
            "path": self.path,
            "message": self.message,
        }
        if self.deprecated is not None:
            data["deprecated"] = dict(self.deprecated)
        return data


@dataclass(frozen=True)
class ContractDiff:
    """The result of :func:`compare`: the changes and the SemVer verdict."""

    package: str
    old_version: str | None
    new_version: str | None
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> Impact:
        """``breaking`` if a change breaks, else ``additive`` if anything changed, else ``none``."""
        if any(c.impact is Impact.BREAKING for c in self.changes):
            return Impact.BREAKING
        return Impact.ADDITIVE if self.changes else Impact.NONE

    @property
    def breaking(self) -> tuple[Change, ...]:
        """The breaking changes."""
        return tuple(c for c in self.changes if c.impact is Impact.BREAKING)

    @property
    def additive(self) -> tuple[Change, ...]:
        """The additive changes."""
        return tuple(c for c in self.changes if c.impact is Impact.ADDITIVE)

    @property
    def required_bump(self) -> str:
        """The smallest version bump SemVer allows for these changes (see :func:`required_bump`)."""
        return required_bump(self.verdict, self.old_version)

    @property
    def actual_bump(self) -> str | None:
        """``major``, ``minor``, ``patch``, ``none`` or ``downgrade``; ``None`` without versions."""
        if not self.old_version or not self.new_version:
            return None
        old, new = parse_version(self.old_version), parse_version(self.new_version)
        if new < old:
            return "downgrade"
        if new[0] > old[0]:
            return "major"
        if new[1] > old[1]:
            return "minor"
        return "patch" if new[2] > old[2] else "none"

    def policy_violations(self) -> list[str]:
        """What breaks the versioning policy (docs/versioning.md); empty when it holds.

        The version bump must be at least :attr:`required_bump`, and every removal must
        have been announced: deprecated in the old contract with ``removed_in`` at or
        before the new version.
        """
        problems: list[str] = []
        actual = self.actual_bump
        if actual is None:
            problems.append("both contracts need a version to check the version bump")
        elif _RANK[actual] < _RANK[self.required_bump]:
            problems.append(
                f"the changes need a {self.required_bump} release, but {self.old_version} -> "
                f"{self.new_version} is {with_article(actual)} bump"
            )
        for change in self.changes:
            if change.kind != "removed":
                continue
            announced = change.deprecated
            if announced is None:
                problems.append(f"{change.path} was removed without a prior deprecation")
            elif self.new_version and parse_version(self.new_version) < parse_version(
                str(announced.get("removed_in"))
            ):
                problems.append(
                    f"{change.path} was removed before {announced.get('removed_in')}, "
                    "the version its deprecation announced"
                )
        return problems

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view with the verdict and both versions."""
        return {
            "package": self.package,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "verdict": self.verdict.value,
            "required_bump": self.required_bump,
            "actual_bump": self.actual_bump,
            "breaking": len(self.breaking),
            "additive": len(self.additive),
            "changes": [c.as_dict() for c in self.changes],
        }


_RANK = {"downgrade": -1, "none": 0, "patch": 1, "minor": 2, "major": 3}


def required_bump(verdict: Impact | str, old_version: str | None) -> str:
    """The smallest SemVer bump for a verdict: breaking → major, additive → minor, none → patch.

    Before 1.0 everything moves down one place (breaking → minor, additive → patch), as
    SemVer's "0.y.z is for initial development" allows and Cargo/npm practise.
    """
    impact = Impact(verdict)
    initial = old_version is not None and parse_version(old_version)[0] == 0
    if impact is Impact.BREAKING:
        return "minor" if initial else "major"
    if impact is Impact.ADDITIVE:
        return "patch" if initial else "minor"
    return "patch"
