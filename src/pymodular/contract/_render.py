"""Reading contract files and rendering a comparison as text, Markdown or JSON."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from pymodular.contract._change import ContractDiff, Impact
from pymodular.contract._errors import ContractFormatError
from pymodular.contract._extract import SCHEMA

__all__ = ("FORMATS", "load", "render")

_MAX_BYTES = 64 * 1024 * 1024


def load(path: str | Path) -> dict[str, Any]:
    """Read a contract file written by ``pymodular contract extract``.

    Raises :class:`~pymodular.contract.ContractFormatError` when the file is not JSON,
    too large, or not a pymodular contract, and :class:`OSError` when it cannot be read.
    """
    source = Path(path)
    # Opened without blocking and checked after opening: a FIFO is refused, not waited on.
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ContractFormatError(
                f"{str(source)!r} is not a regular file; not a contract file",
                source=str(source),
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(_MAX_BYTES + 1)  # bounded, whatever size stat() would claim
    finally:
        os.close(fd)
    if len(raw) > _MAX_BYTES:
        raise ContractFormatError(
            f"{str(source)!r} is larger than {_MAX_BYTES // (1024 * 1024)} MiB; "
            "not a contract file",
            source=str(source),
        )
    text = raw.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractFormatError(
            f"{str(source)!r} is not valid JSON: {exc.msg} at line {exc.lineno}",
            source=str(source),
        ) from None
    except RecursionError:
        raise ContractFormatError(
            f"{str(source)!r} is nested too deeply; not a contract file", source=str(source)
        ) from None
    except ValueError:  # an integer longer than the interpreter converts
        raise ContractFormatError(
            f"{str(source)!r} holds a number too long to read; not a contract file",
            source=str(source),
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ContractFormatError(
            f"{str(source)!r} is not a pymodular API contract (schema {found!r}, "
            f"expected {SCHEMA!r}); write one with 'pymodular contract extract'",
            source=str(source),
        )
    if not isinstance(data.get("modules"), dict) or not all(
        isinstance(m, dict) and isinstance(m.get("names", {}), dict)
        for m in data["modules"].values()
    ):
        raise ContractFormatError(
            f"{str(source)!r} is a damaged contract: 'modules' must map names to objects",
            source=str(source),
        )
    return data


def _headline(diff: ContractDiff) -> str:
    versions = ""
    if diff.old_version or diff.new_version:
        versions = f" {diff.old_version or '?'} -> {diff.new_version or '?'}"
    counts = f"{len(diff.breaking)} breaking, {len(diff.additive)} additive"
    return (
        f"{diff.package}{versions}: {diff.verdict.value} ({counts}); "
        f"needs at least a {diff.required_bump} release"
    )


FORMATS = ("text", "table", "json", "yaml", "markdown")
"""What :func:`render` writes; ``table`` is another name for ``text``."""


def render(diff: ContractDiff, fmt: str, *, policy: list[str] | None = None) -> str:
    """``diff`` as ``text``/``table`` (one line per change), ``markdown``, ``json`` or
    ``yaml`` (the same data as JSON). Raises ``ValueError`` for another format."""
    if fmt in ("json", "yaml"):
        data = diff.as_dict()
        if policy is not None:
            data["policy_violations"] = policy
        if fmt == "yaml":
            import yaml

            return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
        return json.dumps(data, indent=2, ensure_ascii=False)
    if fmt == "markdown":
        return _markdown(diff, policy)
    if fmt not in ("text", "table"):
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    lines = [_headline(diff)]
    for change in diff.changes:
        label = "BREAKING" if change.impact is Impact.BREAKING else "additive"
        lines.append(f"  {label:<9} {change.message}")
    lines.extend(f"  POLICY    {problem}" for problem in policy or ())
    return "\n".join(lines)


def _markdown(diff: ContractDiff, policy: list[str] | None) -> str:
    lines = [f"## API changes: {_headline(diff)}", ""]
    for title, changes in (("Breaking", diff.breaking), ("Additive", diff.additive)):
        if changes:
            lines.append(f"### {title} ({len(changes)})")
            lines.extend(f"- `{c.path}`: {c.message}" for c in changes)
            lines.append("")
    if policy:
        lines.append("### Versioning policy")
        lines.extend(f"- {p}" for p in policy)
        lines.append("")
    if not diff.changes:
        lines.append("No API changes.")
    return "\n".join(lines).rstrip()
