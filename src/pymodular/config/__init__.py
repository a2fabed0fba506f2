"""Configuration: declare sections, feed them from many sources, validate, trace (FR-006..010).

A module declares a :class:`ConfigModel` for its section; :class:`Configuration`
collects values from feeders (:mod:`pymodular.config.feeders`), merges them with a
documented precedence, resolves secret references (``${env:NAME}``, ``${file:/path}``,
:class:`SecretResolver`), validates every section at once, and records per-field
provenance. Secrets (``Secret[str]`` or ``field(secret=True)``) are masked everywhere.
"""

from typing import TYPE_CHECKING

from pymodular._lazy import lazy_exports as _lazy_exports
from pymodular.config._configuration import Configuration
from pymodular.config._describe import FieldInfo, describe_fields
from pymodular.config._feeder import Feeder
from pymodular.config._layer import FieldPath, Layer, Source
from pymodular.config._merge import deep_merge, merge_layers
from pymodular.config._model import ConfigModel, field
from pymodular.config._problems import FieldError
from pymodular.config._provenance import FieldProvenance, Overridden
from pymodular.config._references import (
    EnvSecretResolver,
    FileSecretResolver,
    SecretResolver,
)
from pymodular.config._sentinel import NOT_GIVEN, NotGiven
from pymodular.config._snapshot import ConfigSnapshot
from pymodular.config._spec import SectionSpec
from pymodular.secrets import Secret

if TYPE_CHECKING:
    from pymodular.config._diff import ConfigDiff, FieldChange, diff
    from pymodular.config._retention import (
        JsonLinesProvenanceStore,
        MaxAge,
        MemoryProvenanceStore,
        ProvenanceExport,
        RetentionPolicy,
    )
    from pymodular.config._sample import generate_sample

# Used by reload, operators and tooling rather than by every start: loaded on first use.
_LAZY = {
    "ConfigDiff": "_diff",
    "FieldChange": "_diff",
    "diff": "_diff",
    "JsonLinesProvenanceStore": "_retention",
    "MaxAge": "_retention",
    "MemoryProvenanceStore": "_retention",
    "ProvenanceExport": "_retention",
    "RetentionPolicy": "_retention",
    "generate_sample": "_sample",
}


__getattr__ = _lazy_exports(__name__, _LAZY)


__all__ = (
    "NOT_GIVEN",
    "ConfigDiff",
    "ConfigModel",
    "ConfigSnapshot",
    "Configuration",
    "EnvSecretResolver",
    "Feeder",
    "FieldChange",
    "FieldError",
    "FieldInfo",
    "FieldPath",
    "FieldProvenance",
    "FileSecretResolver",
    "JsonLinesProvenanceStore",
    "Layer",
    "MaxAge",
    "MemoryProvenanceStore",
    "NotGiven",
    "Overridden",
    "ProvenanceExport",
    "RetentionPolicy",
    "Secret",
    "SecretResolver",
    "SectionSpec",
    "Source",
    "deep_merge",
    "describe_fields",
    "diff",
    "field",
    "generate_sample",
    "merge_layers",
)
