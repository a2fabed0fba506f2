"""Configuration feeders: where values come from (FR-007).

Feeders listed later win; an explicit ``priority`` (higher wins) overrides list order,
ties keep it. Nested mappings deep-merge, lists and scalars replace. Write your own by
implementing the small :class:`Feeder` protocol (``name``, ``required``, ``priority``,
``feed(sections) -> [Layer]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymodular._lazy import lazy_exports as _lazy_exports
from pymodular.config._feeder import Feeder, order_feeders
from pymodular.config._layer import Layer, Source
from pymodular.config.feeders._dict import DictFeeder
from pymodular.config.feeders._env import DotEnvFeeder, EnvFeeder
from pymodular.config.feeders._files import FileFeeder

if TYPE_CHECKING:
    from pymodular.config.feeders._directory import DirectoryFeeder
    from pymodular.config.feeders._json import JsonFeeder
    from pymodular.config.feeders._toml import TomlFeeder
    from pymodular.config.feeders._yaml import YamlFeeder

# File-format feeders load their parser (PyYAML, tomllib) only when first used.
_LAZY = {
    "DirectoryFeeder": "_directory",
    "JsonFeeder": "_json",
    "TomlFeeder": "_toml",
    "YamlFeeder": "_yaml",
}


__getattr__ = _lazy_exports(__name__, _LAZY)


__all__ = (
    "DictFeeder",
    "DirectoryFeeder",
    "DotEnvFeeder",
    "EnvFeeder",
    "Feeder",
    "FileFeeder",
    "JsonFeeder",
    "Layer",
    "Source",
    "TomlFeeder",
    "YamlFeeder",
    "order_feeders",
)
