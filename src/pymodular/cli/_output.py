"""Rendering data for the terminal: aligned tables, JSON and YAML."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pymodular.cli._errors import FileSystemError, UsageError

__all__ = ("Column", "dump", "table", "write_file")

Column = tuple[str, str]
"""``(key, header)`` of one table column."""

_MAX_CELL = 80


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(str(value).split())
    if len(text) > _MAX_CELL:
        text = text[: _MAX_CELL - 3] + "..."
    return text


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, title: str = "") -> str:
    """An aligned plain-text table; ``-`` marks empty cells."""
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [title] if title else []
    lines.append("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    if not cells:
        lines.append("(none)")
    return "\n".join(line.rstrip() for line in lines)


def dump(data: Any, fmt: str, *, render_table: Callable[[Any], str] | None = None) -> str:
    """``data`` as ``json``, ``yaml`` or (with ``render_table``) ``table`` text."""
    if fmt == "json":
        return json.dumps(data, indent=2, default=str, ensure_ascii=False)
    if fmt == "yaml":
        import yaml

        text: str = yaml.safe_dump(
            json.loads(json.dumps(data, default=str)), sort_keys=False, allow_unicode=True
        )
        return text.rstrip("\n")
    if fmt == "table" and render_table is not None:
        return render_table(data)
    raise UsageError(f"unknown output format {fmt!r}")


def write_file(path: Path, text: str, *, force: bool, mode: int | None = None) -> None:
    """Write ``text`` to ``path``; refuse to replace an existing file unless ``force``."""
    if path.is_dir():
        raise FileSystemError(f"{str(path)!r} is a directory; give a file name")
    if path.exists() and not force:
        raise FileSystemError(f"{str(path)!r} exists; pass --force to overwrite it")
    if path.exists() and not path.is_file():  # a FIFO would block the write forever
        raise FileSystemError(f"{str(path)!r} is not a regular file; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if mode is not None:
            os.chmod(path, mode)
    except OSError as exc:
        raise FileSystemError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
