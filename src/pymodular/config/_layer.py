"""What feeders produce: a ``Layer`` of nested data and a ``Source`` per leaf."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymodular.secrets import redact

if TYPE_CHECKING:
    from pymodular.config.feeders._envmap import EnvNaming

__all__ = ("FieldPath", "Layer", "Path", "Source")

FieldPath = tuple[str, ...]
"""A field path as a tuple of keys: ``("database", "pool", "size")``."""

Path = FieldPath  # the short internal name


@dataclass(frozen=True, slots=True)
class Source:
    """Where one value came from.

    ``feeder`` names the feeder (``yaml``, ``env``, ``default``); ``location`` is the
    human-readable concrete source (``config.yaml:12``, ``env APP_DB__DSN``,
    ``programmatic``). ``file``, ``line`` and ``variable`` carry the same facts as data
    when known.
    """

    feeder: str
    location: str
    file: str | None = None
    line: int | None = None
    variable: str | None = None

    def __str__(self) -> str:
        return self.location

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, without empty entries."""
        data: dict[str, Any] = {"feeder": self.feeder, "location": self.location}
        for key in ("file", "line", "variable"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


DEFAULT_SOURCE = Source("default", "default")


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of configuration data, as a feeder (or an overlay) contributes it.

    ``data`` is nested: mappings are merged key by key into lower layers, every other
    value (scalars, lists, ``None``) replaces what was there. ``sources`` maps the path
    of a leaf to where it came from; a leaf with no entry takes the source of its
    nearest ancestor that has one, else ``origin``. A value of :data:`NOT_GIVEN` is
    ignored (it says nothing). ``skipped`` holds the reason when a feeder contributed
    nothing on purpose (an optional file that is absent). ``naming`` is the rules of the
    environment variables the layer was read from (None for other layers): verbose
    configuration shows the variable names each field was looked up under.
    """

    name: str
    data: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[Path, Source] = field(default_factory=dict)
    origin: Source | None = None
    skipped: str | None = None
    naming: EnvNaming | None = None

    def __repr__(self) -> str:
        # Raw feeder data: values of secret fields are registered once validated.
        return redact(
            f"Layer(name={self.name!r}, data={self.data!r}, origin={self.origin!r}, "
            f"skipped={self.skipped!r})"
        )

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, name: str = "dict", location: str = "programmatic"
    ) -> Layer:
        """A layer whose every leaf has the same source (``programmatic`` by default)."""
        return cls(name=name, data=data, origin=Source(name, location))

    @classmethod
    def skip(cls, name: str, reason: str) -> Layer:
        """An empty layer recording why a feeder contributed nothing."""
        return cls(name=name, skipped=reason)

    @property
    def fallback(self) -> Source:
        """The source of leaves that have no entry of their own."""
        return self.origin or Source(self.name, self.name)
