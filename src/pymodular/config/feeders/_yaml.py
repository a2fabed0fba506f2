"""``YamlFeeder``: YAML through libyaml when present, with a line per leaf."""

from __future__ import annotations

import re
from typing import Any

import yaml

from pymodular.config._layer import Layer, Path, Source
from pymodular.config.feeders._files import FileFeeder, value_problem

__all__ = ("YamlFeeder",)

# libyaml parses and composes in C; construction stays in Python either way.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


class YamlFeeder(FileFeeder):
    """Reads one YAML file: top-level keys are section names.

    Uses ``yaml.CSafeLoader`` when libyaml is available (about 8x faster) and still
    reports ``file:line`` for every value by composing the node tree first. Only safe
    tags are accepted. Errors name the file, line and column.
    """

    format = "yaml"

    def parse(self, text: str) -> Layer:
        """Parse YAML text into a layer with per-leaf line numbers."""
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return Layer(self.name, {}, origin=self.source())
            if not isinstance(node, yaml.MappingNode):
                raise self.error(
                    f"expected a mapping of sections at the top level, got {node.id}",
                    line=node.start_mark.line + 1,
                )
            builder = _Builder(self, loader)
            data = builder.mapping(node, ())
            return Layer(self.name, data, builder.sources, origin=self.source())
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            column = f" column {mark.column + 1}" if mark else ""
            problem = _untagged(exc.problem or exc.context or "invalid YAML")
            raise self.error(
                f"invalid YAML at{column}: {problem}; expected valid YAML", line
            ) from None
        except yaml.YAMLError as exc:
            raise self.error(f"invalid YAML: {exc}; expected valid YAML") from None
        except RecursionError:
            raise self.error(
                f"nesting too deep; expected at most {self.max_depth} levels"
            ) from None
        finally:
            loader.dispose()


_UNKNOWN_TAG = re.compile(r"could not determine a constructor for the tag '([^']*)'")
_STANDARD_TAG = "tag:yaml.org,2002:"


def _untagged(problem: str) -> str:
    """PyYAML's problem text without a local tag's name.

    An unquoted value that starts with ``!`` is read as a tag, and PyYAML quotes the tag
    in its message: ``password: !s3cret`` would put the password in the error. Only the
    standard ``!!name`` tags are named.
    """
    found = _UNKNOWN_TAG.search(problem)
    if found is None:
        return problem
    tag = found.group(1)
    if tag.startswith(_STANDARD_TAG):
        return f"unknown or unsafe tag '!!{tag.removeprefix(_STANDARD_TAG)}'"
    return (
        "a tag this loader does not take (a value that starts with '!' is read as a tag: "
        "quote it if it is text)"
    )


class _Builder:
    """Constructs Python values from nodes while recording the line of every key."""

    def __init__(self, feeder: YamlFeeder, loader: Any) -> None:
        self.feeder = feeder
        self.loader = loader
        self.sources: dict[Path, Source] = {}
        self.budget = feeder.max_values
        self.constructors: dict[Any, Any] = loader.yaml_constructors

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        if len(path) > self.feeder.max_depth:
            raise self.feeder.error(
                f"nested more than {self.feeder.max_depth} levels at {'.'.join(path)!r}",
                line=node.start_mark.line + 1,
            )
        self.loader.flatten_mapping(node)  # resolves ``<<`` merge keys in place
        out: dict[str, Any] = {}
        sources = self.sources
        source = self.feeder.source
        for key_node, value_node in node.value:
            self._spend(key_node)
            key = self.value(key_node)
            if isinstance(key, list | dict):
                raise self.feeder.error(
                    "a mapping key must be a scalar", line=key_node.start_mark.line + 1
                )
            key = key if isinstance(key, str) else str(key)
            child = (*path, key)
            sources[child] = source(key_node.start_mark.line + 1)
            if isinstance(value_node, yaml.MappingNode):
                out[key] = self.mapping(value_node, child)
            elif isinstance(value_node, yaml.ScalarNode):
                self._spend(value_node)
                out[key] = self.value(value_node)
            else:
                self._count(value_node, len(child))
                out[key] = self.value(value_node)
        return out

    def value(self, node: yaml.Node) -> Any:
        """Construct a key or value; a value Python cannot hold is an error at its line.

        ``2024-02-30`` (a date that does not exist) and integers longer than the
        interpreter converts raise ``ValueError`` inside PyYAML's constructors; an
        explicit tag on a value it does not fit (``!!int`` on nothing, ``!!bool maybe``,
        ``!!timestamp`` on nothing) raises ``IndexError``, ``KeyError`` or
        ``AttributeError`` there.
        """
        try:
            if isinstance(node, yaml.ScalarNode):
                return self.scalar(node)
            return self.loader.construct_object(node, deep=True)
        except (ValueError, ArithmeticError, TypeError, LookupError, AttributeError) as exc:
            text = node.value if isinstance(node, yaml.ScalarNode) else ""
            raise self.feeder.error(
                f"cannot read this value: {value_problem(exc, text)}",
                line=node.start_mark.line + 1,
            ) from None

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """Construct a plain scalar without the generic bookkeeping (the hot path)."""
        if node.tag == _STR_TAG:
            return node.value
        constructor = self.constructors.get(node.tag)
        if constructor is None:  # unknown or unsafe tag: let PyYAML raise its marked error
            return self.loader.construct_object(node, deep=True)
        return constructor(self.loader, node)

    def _count(self, node: yaml.Node, depth: int) -> None:
        """Charge every node (aliases each time) against the budget, guarding depth too."""
        self._spend(node)
        if depth > self.feeder.max_depth:
            raise self.feeder.error(
                f"nested more than {self.feeder.max_depth} levels",
                line=node.start_mark.line + 1,
            )
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self._count(item, depth + 1)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self._count(key, depth + 1)
                self._count(value, depth + 1)

    def _spend(self, node: yaml.Node) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.feeder.error(
                f"more than {self.feeder.max_values} values (an alias bomb?); "
                "expected a configuration file (pass max_values=... if this is intended)",
                line=node.start_mark.line + 1,
            )
