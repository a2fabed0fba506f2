"""``pymodular contract diff``: read or extract both sides, compare, report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymodular.cli._errors import FileSystemError, TargetError, UsageError

__all__ = ("diff_command", "extract_command", "obtain")


def extract_command(
    package: str, *, exclude: list[str], include_private: bool, app_dir: Path | None
) -> str:
    """The contract of ``package`` as indented, key-sorted JSON."""
    import json

    from pymodular.contract import ContractImportError, extract

    try:
        data = extract(
            package, exclude=exclude, include_private=include_private, path=_dir(app_dir)
        )
    except ContractImportError as exc:
        raise TargetError(exc.message) from exc
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def _dir(app_dir: Path | None) -> Path:
    """Where packages are imported from: ``--app-dir``, or the working directory as for
    every other command (see ``pymodular.cli._target.on_path``)."""
    return app_dir or Path()


def obtain(source: str, *, app_dir: Path | None) -> dict[str, Any]:
    """A contract from a file, or extracted from an importable package name."""
    from pymodular.contract import ContractFormatError, ContractImportError, extract, load

    path = Path(source)
    if path.exists() or source.endswith(".json") or "/" in source:
        try:
            return load(path)
        except ContractFormatError as exc:
            raise UsageError(exc.message) from exc
        except OSError as exc:
            raise FileSystemError(f"cannot read {source!r}: {exc.strerror or exc}") from exc
    try:
        return extract(source, path=_dir(app_dir))
    except ContractImportError as exc:
        raise TargetError(exc.message) from exc


def diff_command(
    old: str,
    new: str,
    fmt: str,
    *,
    fail_on: str,
    check_version: bool,
    app_dir: Path | None,
) -> tuple[str, bool]:
    """Render the comparison of ``old`` and ``new``; say whether the command fails."""
    from pymodular.contract import Impact, compare, render

    diff = compare(obtain(old, app_dir=app_dir), obtain(new, app_dir=app_dir))
    if check_version:
        problems = diff.policy_violations()
        return render(diff, fmt, policy=problems), bool(problems)
    if fail_on == "never":
        failed = False
    elif fail_on == "additive":
        failed = diff.verdict is not Impact.NONE
    else:
        failed = diff.verdict is Impact.BREAKING
    return render(diff, fmt), failed
