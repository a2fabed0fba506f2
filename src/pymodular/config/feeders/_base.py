"""What every bundled feeder shares: a name, a required flag and an optional priority."""

from __future__ import annotations

__all__ = ("FeederBase",)


class FeederBase:
    """Holds the three attributes of the :class:`~pymodular.config.Feeder` protocol."""

    def __init__(self, *, name: str, required: bool, priority: int | None) -> None:
        self._name = name
        self._required = required
        self._priority = priority

    @property
    def name(self) -> str:
        """Name shown in provenance."""
        return self._name

    @property
    def required(self) -> bool:
        """Whether a missing source is an error (a skipped one is recorded otherwise)."""
        return self._required

    @property
    def priority(self) -> int | None:
        """Explicit precedence (higher wins), or ``None``."""
        return self._priority
