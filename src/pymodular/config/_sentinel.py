"""The "not given" sentinel: absent, as opposed to an explicit ``None``."""

from __future__ import annotations

import enum
from typing import Final, Literal

__all__ = ("NOT_GIVEN", "NotGiven")


class NotGiven(enum.Enum):
    """Type of :data:`NOT_GIVEN`; an enum so type checkers can narrow on it."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""No value at all. ``None`` is a value (an explicit ``null`` overrides a default);
``NOT_GIVEN`` means nothing was said, so lower layers and defaults still apply."""
