"""Where a database stands against its migration scripts: a pure decision, no I/O.

=========  ================================================================
current    the database is at every head of the scripts (or both are empty)
pending    the database is behind: every revision it is at is known, not all heads
diverged   the scripts have several heads, or the database is at a revision the
           scripts do not contain (another branch, deleted scripts, a newer release)
=========  ================================================================
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ("MigrationState", "migration_state")

Standing = Literal["current", "pending", "diverged"]


@dataclass(frozen=True, slots=True)
class MigrationState:
    """The decision and its reason, with the revisions it was made from."""

    standing: Standing
    reason: str
    database: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...] = ()
    """When ``pending``: the revisions an upgrade to the head applies, oldest first."""


def migration_state(
    database: Collection[str], heads: Collection[str], known: Mapping[str, Collection[str]]
) -> MigrationState:
    """Compare the ``database``'s current revisions with the scripts' ``heads``.

    ``known`` maps every revision the scripts contain to its down revisions.
    """
    at, tops = tuple(sorted(database)), tuple(sorted(heads))

    def state(standing: Standing, reason: str) -> MigrationState:
        return MigrationState(standing, reason, at, tops)

    if len(tops) > 1:
        return state(
            "diverged",
            f"the migration scripts have {len(tops)} heads ({', '.join(tops)}); merge them "
            "with `pymodular db revision --merge`",
        )
    unknown = [revision for revision in at if revision not in known]
    if unknown:
        return state(
            "diverged",
            f"the database is at revision {', '.join(unknown)}, which the migration scripts "
            "do not contain (scripts from another branch or a newer release?)",
        )
    if set(at) == set(tops):
        return state("current", f"at {tops[0]}" if tops else "no migrations")
    shown = ", ".join(at) if at else "no revision"
    return MigrationState(
        "pending",
        f"the database is at {shown}; the scripts' head is {tops[0]}",
        at,
        tops,
        _between(known, at, tops),
    )


def _ancestry(known: Mapping[str, Collection[str]], tops: Collection[str]) -> list[str]:
    """``tops`` and every revision below them, each after all of its down revisions."""
    order: list[str] = []
    seen: set[str] = set()
    for top in sorted(tops):
        stack: list[tuple[str, bool]] = [(top, False)]
        while stack:
            revision, expanded = stack.pop()
            if expanded:
                order.append(revision)
            elif revision not in seen and revision in known:
                seen.add(revision)
                stack.append((revision, True))
                stack.extend((down, False) for down in sorted(known[revision], reverse=True))
    return order


def _between(
    known: Mapping[str, Collection[str]], database: Collection[str], heads: Collection[str]
) -> tuple[str, ...]:
    applied = set(_ancestry(known, database))
    return tuple(revision for revision in _ancestry(known, heads) if revision not in applied)
