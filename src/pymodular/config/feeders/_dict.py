"""``DictFeeder``: configuration given in code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymodular.config._layer import Layer
from pymodular.config._spec import SectionSpec
from pymodular.config.feeders._base import FeederBase

__all__ = ("DictFeeder",)


class DictFeeder(FeederBase):
    """Feeds a nested mapping given in code (``{"database": {"port": 5432}}``).

    Values are taken as they are (no string parsing); :data:`NOT_GIVEN` values are
    ignored, ``None`` is an explicit null. Provenance shows ``programmatic`` unless a
    ``location`` is given. The mapping is read on every feed, so changing it in place
    and reloading picks the change up.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        name: str = "dict",
        location: str = "programmatic",
        priority: int | None = None,
    ) -> None:
        self.data = data
        self.location = location
        super().__init__(name=name, required=False, priority=priority)

    def __repr__(self) -> str:
        return f"DictFeeder(sections={sorted(self.data)!r})"

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        """Return the mapping as one layer."""
        return [Layer.from_mapping(self.data, name=self._name, location=self.location)]
