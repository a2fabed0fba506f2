"""Where tenants come from: tenant files in directories and tenant-affixed variables.

Pure functions over a directory listing and an environment mapping, so they can be
tested and called from a REPL. Nothing here parses a file; see ``_config.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pymodular.tenancy.errors import InvalidTenantIdError

__all__ = (
    "EXTENSIONS",
    "Scan",
    "check_tenant_id",
    "env_token",
    "scan_directories",
    "scan_environment",
)

EXTENSIONS = (".yaml", ".yml", ".json", ".toml")
"""Tenant file extensions, in the order they are looked for."""

MAX_ID_LENGTH = 64
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def check_tenant_id(tenant: object) -> str:
    """Return ``tenant`` if it is a valid tenant id, else raise :class:`InvalidTenantIdError`.

    A tenant id starts with a letter or digit and continues with letters, digits,
    ``_``, ``-`` or ``.``; at most 64 characters. It names files and variables, so
    nothing that could escape a directory or a variable name is accepted.
    """
    if not isinstance(tenant, str):
        raise InvalidTenantIdError(
            f"a tenant id must be a string, got {type(tenant).__qualname__}", field="tenant"
        )
    if len(tenant) > MAX_ID_LENGTH:
        raise InvalidTenantIdError(
            f"tenant id {tenant[:20]!r}... is {len(tenant)} characters long; "
            f"expected at most {MAX_ID_LENGTH}",
            field="tenant",
        )
    if not _ID.match(tenant) or tenant.endswith("."):
        raise InvalidTenantIdError(
            f"tenant id {tenant!r} is not valid; expected letters, digits, '_', '-' or '.', "
            "starting with a letter or digit",
            field="tenant",
        )
    return tenant


def env_token(tenant: str) -> str:
    """The tenant's part of variable names: ``acme-corp`` -> ``ACME_CORP``."""
    return re.sub(r"[^A-Za-z0-9]", "_", tenant).upper()


@dataclass
class Scan:
    """What a scan of the tenant sources found."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    """Tenant id -> its files, lowest precedence first."""
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Variable token (``ACME``) -> the tenant's variables."""
    problems: list[str] = field(default_factory=list)
    """Problems that belong to no single tenant (a missing directory, a bad file name)."""


def scan_directories(
    directories: Sequence[str | os.PathLike[str]], *, required: bool, only: str | None = None
) -> Scan:
    """List the tenant files of ``directories`` (``only`` restricts to one tenant id).

    Hidden files and files with other extensions are ignored; a tenant-like file whose
    name is not a valid tenant id is reported as a problem. Two files for one tenant in
    the same directory (``acme.yaml`` and ``acme.json``) are both returned: the loader
    refuses that tenant rather than guessing.
    """
    scan = Scan()
    for raw in directories:
        folder = Path(raw)
        if not folder.is_dir():
            if required:
                scan.problems.append(
                    f"tenant directory {folder} does not exist (or is not a directory)"
                )
            continue
        try:
            children = sorted(folder.iterdir())
        except OSError as exc:
            scan.problems.append(f"cannot list tenant directory {folder}: {exc.strerror}")
            continue
        for path in children:
            if path.name.startswith(".") or path.suffix.lower() not in EXTENSIONS:
                continue
            tenant = path.name[: -len(path.suffix)]
            if only is not None and tenant != only:
                continue
            try:
                check_tenant_id(tenant)
            except InvalidTenantIdError as exc:
                scan.problems.append(f"ignored tenant file {path}: {exc.message}")
                continue
            if not path.is_file():
                scan.problems.append(f"ignored tenant file {path}: not a regular file")
                continue
            scan.files.setdefault(tenant, []).append(path)
    return scan


def scan_environment(
    environ: Mapping[str, str], prefix: str, section_tokens: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Group tenant-affixed variables by tenant token.

    ``TENANT_ACME_DATABASE__DSN`` (prefix ``TENANT_``, a section whose token is
    ``DATABASE``) belongs to token ``ACME``. The tenant token is what precedes the
    first ``_<SECTION>_`` boundary, so tenant tokens may contain underscores
    (``TENANT_ACME_CORP_DATABASE__DSN`` -> ``ACME_CORP``). Variables that match no
    section are ignored.
    """
    tokens = sorted({t.upper() for t in section_tokens if t}, key=len, reverse=True)
    found: dict[str, dict[str, str]] = {}
    if not tokens:
        return found
    for variable, value in environ.items():
        if not variable.startswith(prefix):
            continue
        rest = variable[len(prefix) :]
        best = -1
        for token in tokens:
            at = rest.find(f"_{token}_", 1)
            if at > 0 and (best < 0 or at < best):
                best = at
        if best > 0:
            found.setdefault(rest[:best], {})[variable] = value
    return found
