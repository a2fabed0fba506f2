"""One entry per failing field, and the aggregated error built from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymodular.config._layer import Path
from pymodular.config._merge import Entry
from pymodular.errors import ConfigError, ValidationError
from pymodular.secrets import redact

__all__ = ("FieldError", "raise_problems", "source_of", "summarize_input")

_MAX_INPUT = 60
_INT_BITS = 4000  # about 1200 digits; far past anything summarized, far below the limit


@dataclass(frozen=True)
class FieldError:
    """One problem: where (``path``), why (``reason``), from which source, what was given.

    ``got`` is a short repr of the offending input and is ``None`` for secret fields.
    ``kind`` classifies it: a pydantic error type (``int_parsing``, ``missing``),
    ``unknown_key``, ``feeder``, or ``app_validator``.
    """

    path: str
    reason: str
    source: str | None = None
    got: str | None = None
    kind: str = "value_error"
    section: str | None = None
    module: str | None = None

    def __post_init__(self) -> None:
        # Reasons can quote input (a validator echoing a value): mask registered secrets.
        object.__setattr__(self, "reason", redact(self.reason))
        if self.got is not None:
            object.__setattr__(self, "got", redact(self.got))

    def __repr__(self) -> str:
        return redact(
            f"FieldError(path={self.path!r}, reason={self.reason!r}, source={self.source!r}, "
            f"got={self.got!r}, kind={self.kind!r})"
        )

    def __str__(self) -> str:
        text = f"{self.path}: {self.reason}" if self.path else self.reason
        if self.got is not None:
            text += f" (got {self.got})"
        if self.source and not self.reason.startswith(self.source):
            text += f" [from {self.source}]"
        return redact(text)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, secrets masked."""
        return {
            "path": self.path,
            "reason": redact(self.reason),
            "source": self.source,
            "got": redact(self.got) if self.got is not None else None,
            "kind": self.kind,
            "section": self.section,
            "module": self.module,
        }


def summarize_input(value: Any) -> str | None:
    """A short repr of a scalar input, or ``None`` for containers (too noisy).

    Never raises: an integer too long to print is described by its size, a value whose
    ``repr`` fails by its type.
    """
    if value is None or isinstance(value, str | int | float | bool):
        if isinstance(value, int) and value.bit_length() > _INT_BITS:
            return f"an integer of {_digits(value)} digits"
        try:
            text = redact(repr(value))  # before cutting: a cut secret would no longer match
        except Exception:  # noqa: BLE001 - a value that cannot print is named by its type
            return f"<{type(value).__qualname__}>"
        if len(text) > _MAX_INPUT:
            text = text[: _MAX_INPUT - 4] + "...'"
        return text
    return None


def _digits(value: int) -> int:
    """Decimal digits of ``value`` without converting it to text (which may be refused)."""
    size = abs(value)
    guess = int(size.bit_length() * 0.30102999566398120)  # log10(2): never too small by 2
    return guess + 1 if size >= 10**guess else guess


def source_of(history: Mapping[Path, list[Entry]], path: Path) -> str | None:
    """The source that set ``path`` or its nearest ancestor, as text."""
    for size in range(len(path), 0, -1):
        entries = history.get(path[:size])
        if entries:
            return entries[-1][0].location
    return None


def raise_problems(problems: Sequence[FieldError], *, validation: bool) -> None:
    """Raise one aggregated error listing every problem (nothing when there are none)."""
    if not problems:
        return
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    lines = "\n".join(f"  - {p}" for p in problems)
    first = problems[0]
    cls = ValidationError if validation else ConfigError
    raise cls(
        f"configuration is invalid ({count} {noun}):\n{lines}",
        errors=problems,
        module=first.module,
        phase="config",
        field=first.path or None,
        source=first.source,
    )
