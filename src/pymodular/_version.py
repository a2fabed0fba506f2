"""The core version (SemVer, FR-050) and a small parser for comparisons."""

from __future__ import annotations

import re

__all__ = ("__version__", "parse_version")

__version__ = "0.1.0"

_VERSION = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+.]?[0-9A-Za-z.\-+]*)?\s*$")


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.2.3"`` → ``(1, 2, 3)``; missing parts are 0; pre-release tags are ignored."""
    match = _VERSION.match(text)
    if not match:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = (int(part or 0) for part in match.groups())
    return major, minor, patch
