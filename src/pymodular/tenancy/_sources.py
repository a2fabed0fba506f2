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

from pymodular.tenancy._options import TenancyOptions
from pymodular.tenancy.errors import InvalidTenantIdError

__all__ = (
    "EXTENSIONS",
    "Found",
    "Scan",
    "check_tenant_id",
    "colliding",
    "collision_text",
    "discover",
    "env_token",
    "scan_directories",
    "scan_environment",
    "sources_of",
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
    if not _ID.fullmatch(tenant) or tenant.endswith("."):
        raise InvalidTenantIdError(
            f"tenant id {tenant!r} is not valid; expected letters, digits, '_', '-' or '.', "
            "starting with a letter or digit",
            field="tenant",
        )
    return tenant


def env_token(tenant: str) -> str:
    """The tenant's part of variable names: ``acme-corp`` -> ``ACME_CORP``."""
    return re.sub(r"[^A-Za-z0-9]", "_", tenant).upper()


def colliding(tenant: str, others: Iterable[str]) -> str | None:
    """The first of ``others`` whose variable names ``tenant``'s would coincide with.

    ``acme-corp``, ``acme.corp``, ``acme_corp`` and ``Acme-Corp`` all read
    ``TENANT_ACME_CORP_*``; only one of them may be registered, or one tenant's
    variables (a DSN, a password) would reach another.
    """
    token = env_token(tenant)
    return next((o for o in others if o != tenant and env_token(o) == token), None)


def collision_text(tenant: str, other: str) -> str:
    """Why ``tenant`` is refused while ``other`` is registered."""
    return (
        f"tenant ids {other!r} and {tenant!r} share the variable name {env_token(tenant)} "
        "(ids must differ in more than case and '-', '.', '_'); "
        f"{tenant!r} is refused, {other!r} keeps it"
    )


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
    environ: Mapping[str, str],
    prefix: str,
    section_tokens: Iterable[str],
    *,
    known: Iterable[str] = (),
) -> dict[str, dict[str, str]]:
    """Group tenant-affixed variables by tenant token.

    ``TENANT_ACME_DATABASE__DSN`` (prefix ``TENANT_``, a section whose token is
    ``DATABASE``) belongs to token ``ACME``. A variable goes to the longest ``known``
    tenant token it starts with when a section follows it (so tenant ``acme_store``
    gets ``TENANT_ACME_STORE_STORE__DSN`` beside tenant ``acme``); otherwise the tenant
    token is what precedes the first ``_<SECTION>_`` boundary, so tenant tokens may
    contain underscores (``TENANT_ACME_CORP_DATABASE__DSN`` -> ``ACME_CORP``).
    Variables that match no section are ignored.
    """
    tokens = sorted({t.upper() for t in section_tokens if t}, key=len, reverse=True)
    owners = sorted(set(known), key=len, reverse=True)
    found: dict[str, dict[str, str]] = {}
    if not tokens:
        return found
    for variable, value in environ.items():
        if not variable.startswith(prefix):
            continue
        rest = variable[len(prefix) :]
        owner = _known_owner(rest, owners, tokens)
        if owner is None:
            best = -1
            for token in tokens:
                at = rest.find(f"_{token}_", 1)
                if at > 0 and (best < 0 or at < best):
                    best = at
            owner = rest[:best] if best > 0 else None
        if owner:
            found.setdefault(owner, {})[variable] = value
    return found


def _known_owner(rest: str, owners: Sequence[str], tokens: Sequence[str]) -> str | None:
    for owner in owners:
        if rest.startswith(f"{owner}_"):
            tail = rest[len(owner) + 1 :]
            if any(tail.startswith(f"{token}_") for token in tokens):
                return owner
    return None


@dataclass(frozen=True)
class Found:
    """One tenant's own sources."""

    files: tuple[Path, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)


def discover(
    options: TenancyOptions,
    known: Iterable[str],
    section_tokens: Sequence[str],
    environ: Mapping[str, str],
) -> tuple[dict[str, Found], list[str]]:
    """Every tenant the directories and the environment declare, and the problems seen.

    Variables of ``known`` tenants are attached to them; variables of other tenants
    declare new tenants (lower-cased ids) when ``options.discover_env`` is set. A file
    whose tenant id collides with a known or an earlier one (see :func:`colliding`) is
    reported and ignored.
    """
    scan = scan_directories(options.directories, required=options.directories_required)
    problems = list(scan.problems)
    known = list(known)
    found: dict[str, Found] = {}
    for name, files in scan.files.items():
        other = colliding(name, [*known, *found])
        if other is not None:
            problems.append(
                f"ignored tenant files {', '.join(map(str, files))}: " + collision_text(name, other)
            )
            continue
        found[name] = Found(tuple(files))
    if options.env_prefix is None:
        return found, problems
    tokens = {env_token(t): t for t in [*known, *found]}
    by_token = scan_environment(environ, options.env_prefix, section_tokens, known=tokens)
    for token, variables in by_token.items():
        tenant = tokens.get(token)
        if tenant is None:
            if not options.discover_env:
                continue
            tenant = token.lower()
            try:
                check_tenant_id(tenant)
            except InvalidTenantIdError as exc:
                problems.append(f"ignored variables {options.env_prefix}{token}_*: {exc.message}")
                continue
        found[tenant] = Found(found.get(tenant, Found()).files, variables)
    return found, problems


def sources_of(
    options: TenancyOptions,
    tenant: str,
    section_tokens: Sequence[str],
    environ: Mapping[str, str],
    known: Iterable[str] = (),
) -> Found:
    """The current files and variables of one tenant (``known``: every registered id)."""
    files = scan_directories(options.directories, required=False, only=tenant).files
    variables: Mapping[str, str] = {}
    if options.env_prefix is not None:
        owners = {env_token(t) for t in [*known, tenant]}
        by_token = scan_environment(environ, options.env_prefix, section_tokens, known=owners)
        variables = by_token.get(env_token(tenant), {})
    return Found(tuple(files.get(tenant, ())), variables)
