"""``EnvFeeder`` (process environment) and ``DotEnvFeeder`` (a ``.env`` file)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pymodular.config._layer import Layer
from pymodular.config._spec import SectionSpec
from pymodular.config.feeders._base import FeederBase
from pymodular.config.feeders._envmap import EnvNaming, env_layer
from pymodular.config.feeders._files import read_text
from pymodular.errors import ConfigError

__all__ = ("DotEnvFeeder", "EnvFeeder")

_MAX_SECRET_FILE = 1024 * 1024


class EnvFeeder(FeederBase):
    """Reads declared fields from environment variables.

    For field ``port`` of section ``httpserver`` with ``prefix="APP_"`` it looks up, in
    order: the field's explicit ``env=`` name; ``APP_HTTPSERVER__PORT``;
    ``APP_HTTPSERVER_PORT``. ``__`` nests into sub-models and dict fields
    (``APP_HTTPSERVER__TLS__CERT``). ``NAME_FILE=/run/secrets/x`` reads the value from
    that file. Instance-aware sections read ``{prefix}{ENV_PREFIX}_{INSTANCE}_{FIELD}``
    (``DB_PRIMARY_DSN``). List, dict and model fields take JSON (``'["a", "b"]'``).

    ``environ`` replaces ``os.environ`` (tests). With ``required=True`` at least one
    variable must match, else loading fails.
    """

    def __init__(
        self,
        prefix: str = "",
        suffix: str = "",
        *,
        delimiter: str = "__",
        name: str = "env",
        required: bool = False,
        priority: int | None = None,
        environ: Mapping[str, str] | None = None,
        file_suffix: str = "_FILE",
        max_file_bytes: int = _MAX_SECRET_FILE,
    ) -> None:
        if not delimiter:
            raise ValueError("EnvFeeder delimiter must not be empty")
        self.naming = EnvNaming(prefix.upper(), suffix.upper(), delimiter, file_suffix)
        super().__init__(name=name, required=required, priority=priority)
        self._environ = environ
        self.max_file_bytes = max_file_bytes

    @property
    def env_prefix(self) -> str:
        """The prefix of every generated name (used in "how to set it" hints)."""
        return self.naming.prefix

    def __repr__(self) -> str:
        return f"EnvFeeder(prefix={self.naming.prefix!r}, suffix={self.naming.suffix!r})"

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        """Read the environment now."""
        env = dict(os.environ if self._environ is None else self._environ)
        return [self._layer(env, sections, lambda variable: f"env {variable}", "the environment")]

    def _layer(
        self,
        values: Mapping[str, str],
        sections: Sequence[SectionSpec],
        locate: Callable[[str], str],
        where: str,
    ) -> Layer:
        """The layer ``values`` contribute; with ``required``, an empty one is an error."""
        layer = env_layer(
            values,
            sections,
            self.naming,
            name=self._name,
            locate=locate,
            max_file_bytes=self.max_file_bytes,
        )
        if self._required and not layer.data:
            raise ConfigError(
                f"no configuration variables found in {where} "
                f"(prefix {self.naming.prefix!r}); the feeder is marked required",
                source=where,
            )
        return layer


class DotEnvFeeder(EnvFeeder):
    """Reads a ``.env`` file with the same naming rules as :class:`EnvFeeder`.

    Unlike ``load_dotenv`` it does not touch ``os.environ``: the file is one layer, so
    list an ``EnvFeeder`` after it to let the real environment win. ``${VAR}``
    references are expanded. Optional by default (``.env`` files are local).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ".env",
        prefix: str = "",
        suffix: str = "",
        *,
        required: bool = False,
        name: str = "dotenv",
        priority: int | None = None,
        delimiter: str = "__",
        file_suffix: str = "_FILE",
        max_bytes: int = 1024 * 1024,
        max_file_bytes: int = _MAX_SECRET_FILE,
    ) -> None:
        super().__init__(
            prefix,
            suffix,
            delimiter=delimiter,
            name=name,
            required=required,
            priority=priority,
            file_suffix=file_suffix,
            max_file_bytes=max_file_bytes,
        )
        self.path = Path(path)
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"DotEnvFeeder({str(self.path)!r}, prefix={self.naming.prefix!r})"

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        """Read and parse the file now."""
        text = read_text(self.path, max_bytes=self.max_bytes, required=self._required)
        if text is None:
            return [Layer.skip(self._name, f"{self.path} does not exist")]
        values, lines = self._parse(text)

        def locate(variable: str) -> str:
            return f"{self.path}:{lines[variable]} ({variable})"

        return [self._layer(values, sections, locate, str(self.path))]

    def _parse(self, text: str) -> tuple[dict[str, str], dict[str, int]]:
        from dotenv.main import resolve_variables
        from dotenv.parser import parse_stream

        pairs: list[tuple[str, str | None]] = []
        lines: dict[str, int] = {}
        for binding in parse_stream(io.StringIO(text)):
            line = binding.original.line
            if binding.error:
                where = f"{self.path}:{line}"
                raise ConfigError(
                    f"{where}: cannot parse this line; expected NAME=value", source=where
                )
            if binding.key is None:
                continue
            pairs.append((binding.key, binding.value))
            lines[binding.key] = line
        resolved = resolve_variables(pairs, override=True)
        return {k: v for k, v in resolved.items() if v is not None}, lines
