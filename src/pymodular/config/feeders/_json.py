"""``JsonFeeder``: JSON through the standard library, with a line per key."""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from pymodular.config._layer import Layer, Path, Source
from pymodular.config.feeders._files import FileFeeder, value_problem

__all__ = ("JsonFeeder",)

# Every string token, left to right; a key is a string followed by a colon. In valid
# JSON quotes only occur inside strings, so this tokenises exactly.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?', re.DOTALL)


class _Pairs(list[tuple[str, Any]]):
    """An object's key/value pairs in document order (duplicates kept)."""


class _BadNumber(Exception):  # noqa: N818 - internal signal, never escapes parse()
    def __init__(self, digits: str) -> None:
        super().__init__(f"{len(digits)} digits")
        self.digits = digits


def _integer(digits: str) -> int:
    """``int`` for the JSON parser, telling ``parse`` which literal it could not take."""
    try:
        return int(digits)
    except ValueError as exc:  # longer than sys.get_int_max_str_digits()
        raise _BadNumber(digits) from exc


class JsonFeeder(FileFeeder):
    """Reads one JSON file: top-level keys are section names.

    Line numbers come from a scan of the key tokens, matched in document order to the
    parsed objects, so every value is reported as ``file.json:LINE``.
    """

    format = "json"

    def parse(self, text: str) -> Layer:
        """Parse JSON text into a layer with per-key line numbers."""
        try:
            parsed = json.loads(text, object_pairs_hook=_Pairs, parse_int=_integer)
        except _BadNumber as exc:
            raise self.error(
                f"cannot read this value: {value_problem(exc.__cause__ or exc)}",
                text.count("\n", 0, max(text.find(exc.digits), 0)) + 1,
            ) from None
        except json.JSONDecodeError as exc:
            raise self.error(
                f"invalid JSON at column {exc.colno}: {exc.msg}; expected valid JSON", exc.lineno
            ) from None
        except RecursionError:
            raise self.error(
                f"nesting too deep; expected at most {self.max_depth} levels"
            ) from None
        if not isinstance(parsed, _Pairs):
            self.check_top_level(parsed, type(parsed).__name__)
        builder = _Builder(self, text)
        data = builder.build(parsed, (), 0)
        return Layer(self.name, data, builder.sources, origin=self.source())


class _Builder:
    def __init__(self, feeder: JsonFeeder, text: str) -> None:
        self.feeder = feeder
        newlines = [m.start() for m in re.finditer("\n", text)]
        self.key_lines = iter(
            bisect.bisect_right(newlines, m.start()) + 1
            for m in _STRING.finditer(text)
            if m.group(1)
        )
        self.sources: dict[Path, Source] = {}
        self.count = 0

    def build(self, value: Any, path: Path | None, depth: int) -> Any:
        """Convert one parsed value, charging it against ``max_values``.

        ``path`` is ``None`` inside lists: keys there keep the token order (so later
        lines stay matched) but get no source of their own.
        """
        feeder = self.feeder
        self.count += 1
        if self.count > feeder.max_values:
            raise feeder.error(
                f"more than {feeder.max_values} values; expected a configuration file"
            )
        if depth > feeder.max_depth:
            where = f" at {'.'.join(path)!r}" if path else ""
            raise feeder.error(f"nested more than {feeder.max_depth} levels{where}")
        if isinstance(value, _Pairs):
            out: dict[str, Any] = {}
            for key, item in value:
                line = next(self.key_lines, None)
                child = None if path is None else (*path, key)
                if child is not None:
                    self.sources[child] = feeder.source(line)
                out[key] = self.build(item, child, depth + 1)
            return out
        if isinstance(value, list):
            return [self.build(item, None, depth + 1) for item in value]
        return value
