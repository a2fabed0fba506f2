"""Choosing one service among candidates (FR-044): a pure function."""

from __future__ import annotations

from collections.abc import Sequence

from pymodular.services._service import ServiceEntry

__all__ = ("choose", "rank")


def rank(candidates: Sequence[ServiceEntry]) -> list[ServiceEntry]:
    """Best first: higher priority, then earlier registration."""
    return sorted(candidates, key=lambda e: (-e.priority, e.sequence))


def choose(ranked: Sequence[ServiceEntry]) -> ServiceEntry | None:
    """The single best of ``ranked`` (already in :func:`rank` order), or None when tied.

    An explicit name has been applied before this point; what remains is priority, then
    registration order. Services declared together by one module share a registration
    moment, so two of them with equal priority tie.
    """
    if not ranked:
        return None
    best = ranked[0]
    if len(ranked) > 1:
        runner = ranked[1]
        if (runner.priority, runner.sequence) == (best.priority, best.sequence):
            return None
    return best
