"""The engine contract: compile a schema document, then check documents against it.

An engine is a validator library behind a small ABC. Engines are registered by name in
:data:`ENGINES` (``rs``: jsonschema-rs, ``python``: the ``jsonschema`` package); a user adds
one with ``ENGINES.register("mine", factory)``. Every engine passes the conformance suite
in ``tests/conformance/jsonschema/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from pymodular._extras import Extra
from pymodular.modules._backends import BackendRegistry
from pymodular.modules.jsonschema._analysis import Draft
from pymodular.modules.jsonschema._issue import RawIssue
from pymodular.modules.jsonschema.errors import RemoteReferenceError

__all__ = (
    "ENGINES",
    "CompiledSchema",
    "Engine",
    "EngineOptions",
    "choose_engine",
    "refuse_retrieval",
)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """What every engine is told (from :class:`~.JsonSchemaConfig`)."""

    validate_formats: bool = False
    pattern_timeout: float = 0.1
    """Seconds one ``pattern`` match may take (engines that can time a match)."""
    regex_backtrack_limit: int = 100_000
    """Backtracking steps one ``pattern`` match may take (engines that count them)."""


class CompiledSchema(ABC):
    """A schema an engine compiled: checks documents (Python values).

    ``is_valid(instance)`` tells whether ``instance`` matches, stopping at the first
    problem; an attribute rather than a method, so an engine can hand over its
    library's own function and the hot path pays no extra call.
    """

    is_valid: Callable[[Any], bool]

    @abstractmethod
    def raw_issues(self, instance: Any) -> Iterator[RawIssue]:
        """Every problem with ``instance``.

        Raises :class:`~.ValidationLimitError` when a pattern ran out of budget.
        """


class Engine(ABC):
    """A JSON Schema validator library."""

    name: ClassVar[str]

    def __init__(self, options: EngineOptions) -> None:
        self.options = options

    @abstractmethod
    def compile(
        self,
        document: Any,
        *,
        draft: Draft,
        base_uri: str,
        resources: Mapping[str, Any],
        schema: str | None,
    ) -> CompiledSchema:
        """Compile ``document`` (with ``$id`` = ``base_uri`` already set).

        ``resources`` are the other documents it may refer to, by URI: the engine must
        not look anywhere else. Raises :class:`~.SchemaError` when the schema is not
        valid. Issues locate keywords where they are written (through ``$ref``).
        """


def refuse_retrieval(uri: str) -> NoReturn:
    """An engine's retriever: every document a schema may use was gathered before
    compiling, so any other request is refused."""
    raise RemoteReferenceError(f"{uri!r} is not among the documents gathered for this schema")


ENGINES: BackendRegistry[Engine] = BackendRegistry("jsonschema engine")
RS_EXTRA = Extra("jsonschema", "jsonschema_rs")
PYTHON_EXTRA = Extra("jsonschema", "jsonschema", "referencing", "regex")
ENGINES.register("rs", "pymodular.modules.jsonschema.backends.rs:RsEngine", extra=RS_EXTRA)
ENGINES.register(
    "python", "pymodular.modules.jsonschema.backends.python:PythonEngine", extra=PYTHON_EXTRA
)


def choose_engine(name: str, options: EngineOptions, *, field: str | None = None) -> Engine:
    """The engine ``name``; ``auto`` is ``rs`` when jsonschema-rs is installed, else ``python``."""
    if name == "auto":
        name = "rs" if not RS_EXTRA.missing() else "python"
    return ENGINES.create(name, options, field=field)
