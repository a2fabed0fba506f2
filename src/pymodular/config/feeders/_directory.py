"""``DirectoryFeeder``: ``base/default.*`` plus ``environments/<env>/overrides.*`` (FR-041)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from pymodular.config._layer import Layer
from pymodular.config._spec import SectionSpec
from pymodular.config.feeders._base import FeederBase
from pymodular.config.feeders._files import FileFeeder
from pymodular.config.feeders._json import JsonFeeder
from pymodular.config.feeders._toml import TomlFeeder
from pymodular.config.feeders._yaml import YamlFeeder
from pymodular.errors import ConfigError

__all__ = ("DirectoryFeeder",)

_FORMATS: tuple[tuple[str, type[FileFeeder]], ...] = (
    (".yaml", YamlFeeder),
    (".yml", YamlFeeder),
    (".json", JsonFeeder),
    (".toml", TomlFeeder),
)
ENVIRONMENT_VARIABLES = ("APP_ENVIRONMENT", "ENVIRONMENT", "ENV")
_MAX_ENVIRONMENT = 100
_ENVIRONMENT_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]+$")


class DirectoryFeeder(FeederBase):
    """Reads a layered directory and deep-merges the environment's overrides over the base::

        config/
          base/default.yaml                 # everything, for every environment
          environments/prod/overrides.yaml  # only what differs in prod

    The first of ``.yaml``, ``.yml``, ``.json``, ``.toml`` found is used for each file.
    ``environment`` selects the overrides; when ``None`` it is read from
    ``APP_ENVIRONMENT``, ``ENVIRONMENT`` or ``ENV`` (first set), and with none set only
    the base is read. An environment without a directory is an error (a typo would
    otherwise silently run with base settings); an environment directory without an
    overrides file is skipped. Two layers result, so provenance shows each value's
    file and what the override replaced.
    """

    FORMATS: ClassVar[tuple[tuple[str, type[FileFeeder]], ...]] = _FORMATS
    """``(suffix, feeder class)`` of each file format, in lookup order."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        environment: str | None = None,
        *,
        required: bool = True,
        priority: int | None = None,
        name: str = "directory",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.environment = environment
        super().__init__(name=name, required=required, priority=priority)
        self._environ = environ

    def __repr__(self) -> str:
        return f"DirectoryFeeder({str(self.root)!r}, environment={self.environment!r})"

    def selected_environment(self) -> str | None:
        """The environment whose overrides apply, or ``None`` for base only."""
        if self.environment:
            return self.environment
        environ = os.environ if self._environ is None else self._environ
        for variable in ENVIRONMENT_VARIABLES:
            if environ.get(variable):
                return environ[variable]
        return None

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        """Read the base file and the selected environment's overrides, base first."""
        layers: list[Layer] = []
        base = self._find(self.root / "base", "default")
        if base is None:
            if self._required:
                raise ConfigError(
                    f"required base config {self.root / 'base' / 'default.yaml'} does not exist "
                    "(also looked for .yml, .json, .toml)",
                    source=str(self.root / "base"),
                )
            layers.append(Layer.skip(self._name, f"{self.root / 'base'} has no default.*"))
        else:
            layers.extend(base.feed(sections))
        environment = self.selected_environment()
        if environment is None:
            layers.append(Layer.skip(self._name, "no environment selected; base only"))
            return layers
        if len(environment) > _MAX_ENVIRONMENT or not _ENVIRONMENT_NAME.match(environment):
            shown = environment if len(environment) <= 40 else environment[:37] + "..."
            raise ConfigError(
                f"environment {shown!r} is not a plain name; expected at most "
                f"{_MAX_ENVIRONMENT} letters, digits, '.', '_' or '-' (it selects a directory "
                "under environments/)",
                source=str(self.root / "environments"),
            )
        folder = self.root / "environments" / environment
        if not _is_dir(folder):
            known = sorted(p.name for p in (self.root / "environments").glob("*") if p.is_dir())
            raise ConfigError(
                f"unknown environment {environment!r}: {folder} does not exist "
                f"(known: {', '.join(known) or 'none'})",
                source=str(folder),
            )
        overrides = self._find(folder, "overrides")
        if overrides is None:
            layers.append(Layer.skip(self._name, f"{folder} has no overrides.*"))
        else:
            layers.extend(overrides.feed(sections))
        return layers

    def _find(self, folder: Path, stem: str) -> FileFeeder | None:
        for suffix, feeder in _FORMATS:
            path = folder / f"{stem}{suffix}"
            try:
                found = path.is_file()
            except OSError as exc:  # a name too long, a permission denied on the way
                raise ConfigError(
                    f"cannot look at {path}: {exc.strerror}", source=str(path)
                ) from None
            if found:
                return feeder(path, name=self._name)
        return None


def _is_dir(folder: Path) -> bool:
    try:
        return folder.is_dir()
    except OSError as exc:
        raise ConfigError(f"cannot look at {folder}: {exc.strerror}", source=str(folder)) from None
