"""``TomlFeeder``: TOML through the standard library, with best-effort line numbers."""

from __future__ import annotations

import re
import sys
import tomllib
from typing import Any

from pymodular.config._layer import Layer, Path
from pymodular.config.feeders._files import FileFeeder, value_problem

__all__ = ("TomlFeeder",)

_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


class TomlFeeder(FileFeeder):
    """Reads one TOML file with :mod:`tomllib`: top-level tables are sections.

    ``tomllib`` reports no positions for values, so a light scan of the text maps
    ``[table]`` headers and ``key =`` lines to line numbers; values it cannot place
    (inside arrays of tables, multi-line strings) are reported by file only.
    """

    format = "toml"

    def parse(self, text: str) -> Layer:
        """Parse TOML text into a layer."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            found = _AT_LINE.search(message)
            line = int(found.group(1)) if found else None
            reason = _AT_LINE.sub("", message).strip()
            raise self.error(f"invalid TOML: {reason}; expected valid TOML", line) from None
        except (ValueError, ArithmeticError) as exc:  # an integer longer than int() converts
            raise self.error(
                f"cannot read this value: {value_problem(exc)}", _long_number_line(text)
            ) from None
        except RecursionError:
            raise self.error(
                f"nesting too deep; expected at most {self.max_depth} levels"
            ) from None
        _check_depth(self, data, (), 0, 0)
        sources = {path: self.source(line) for path, line in _key_lines(text).items()}
        return Layer(self.name, data, sources, origin=self.source())


def _long_number_line(text: str) -> int | None:
    """The line of the first integer literal longer than the interpreter converts."""
    limit = sys.get_int_max_str_digits() or None
    if limit is None:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        for run in _NUMBER.findall(line):
            if len(run.replace("_", "")) > limit:
                return number
    return None


_NUMBER = re.compile(r"[0-9][0-9_]*")


def _check_depth(feeder: TomlFeeder, value: Any, path: Path, depth: int, count: int) -> int:
    if depth > feeder.max_depth:
        where = ".".join(path)
        raise feeder.error(f"nested more than {feeder.max_depth} levels at {where!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            count = _check_depth(feeder, item, (*path, key), depth + 1, count + 1)
    elif isinstance(value, list):
        for item in value:
            count = _check_depth(feeder, item, path, depth + 1, count + 1)
    if count > feeder.max_values:
        raise feeder.error(f"more than {feeder.max_values} values; expected a configuration file")
    return count


def _split(dotted: str) -> Path:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


def _key_lines(text: str) -> dict[Path, int]:
    """Map ``table.key`` paths to 1-based line numbers by scanning the text."""
    lines: dict[Path, int] = {}
    table: Path = ()
    in_array_table = False
    multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if multiline is not None:
            if line.count(multiline) % 2 == 1:
                multiline = None
            continue
        header = _HEADER.match(line)
        if header:
            table = _split(header.group(1))
            in_array_table = line.lstrip().startswith("[[")
            if not in_array_table:
                lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key and not in_array_table:
            lines[(*table, *_split(key.group(1)))] = number
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                multiline = quote
                break
    return lines
