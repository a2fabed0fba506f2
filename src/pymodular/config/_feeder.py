"""The ``Feeder`` protocol and the one function that orders feeders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from pymodular.config._layer import Layer
from pymodular.config._spec import SectionSpec

__all__ = ("Feeder", "order_feeders")


@runtime_checkable
class Feeder(Protocol):
    """A configuration source. Implement these four members to plug in your own.

    ``feed(sections)`` returns one or more :class:`Layer` objects, lowest precedence
    first: nested data plus a :class:`Source` per leaf (``config.yaml:12``,
    ``env APP_DB__DSN``, ``vault secret/app#dsn``). The sections being collected are
    passed in so a feeder can look up just what is declared (environment feeders do);
    file-like feeders ignore them.

    When its input is missing, a feeder with ``required=True`` raises
    :class:`~pymodular.errors.ConfigError` naming what it looked for; an optional one
    returns ``[Layer.skip(name, reason)]``. ``priority`` orders feeders explicitly
    (higher wins); ``None`` counts as 0 and ties keep the order they were listed in.
    ``feed`` is called on every collect (startup and each reload), so it must re-read.
    """

    @property
    def name(self) -> str:
        """Short name shown in provenance (``yaml``, ``env``, ``vault``)."""
        ...

    @property
    def required(self) -> bool:
        """Whether missing input is an error rather than a skip."""
        ...

    @property
    def priority(self) -> int | None:
        """Explicit precedence; higher wins; ``None`` behaves as 0."""
        ...

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        """Read the source now and return its layers, lowest precedence first."""
        ...


def order_feeders(feeders: Iterable[Feeder]) -> list[Feeder]:
    """Return feeders in application order: lowest precedence first, the winner last.

    Sorted by ``priority`` (``None`` = 0) ascending; equal priorities keep list order,
    so with no priorities at all the feeder listed last wins.
    """
    return sorted(feeders, key=lambda feeder: feeder.priority or 0)  # sorted() is stable
