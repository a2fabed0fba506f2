"""Secret references: a value ``${env:DB_PASSWORD}`` or ``${file:/run/secrets/db}`` (FR-049).

A string value that is exactly ``${<prefix>:<target>}`` is resolved when configuration
is collected, by the resolver registered for ``<prefix>``: ``env`` reads an environment
variable, ``file`` reads a regular file (at most ``max_bytes``; FIFOs, devices and
directories are refused; one trailing newline is dropped). Implement
:class:`SecretResolver` for a vault or a cloud secret manager.

The resolved value is a secret wherever it goes: a ``Secret[...]`` field receives a
:class:`~pymodular.config.Secret`, any other field the plain value — and either way the
value is registered for redaction, so logs, reprs, errors, events and diffs mask it.
Provenance records the reference (``${env:DB_PASSWORD}``), never the value. An unknown
prefix or a failed resolution is a :class:`~pymodular.errors.ConfigError` naming the
field and the reference.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pymodular._text import with_article
from pymodular.config._layer import Path
from pymodular.config._merge import Merged
from pymodular.config._problems import FieldError
from pymodular.config._spec import SectionSpec
from pymodular.config._types import is_secret_type
from pymodular.config._validate import locate
from pymodular.errors import error_text
from pymodular.secrets import Secret, register_secret

__all__ = (
    "EnvSecretResolver",
    "FileSecretResolver",
    "SecretResolver",
    "default_resolvers",
    "parse_reference",
    "resolve_references",
)

_REFERENCE = re.compile(r"\$\{(?P<prefix>[A-Za-z][A-Za-z0-9_-]*):(?P<target>[^{}]+)\}")


@runtime_checkable
class SecretResolver(Protocol):
    """Resolves ``${<prefix>:<target>}`` references for one ``prefix``.

    ``resolve`` returns the secret text or raises (any exception; its message is shown
    with the field and the reference, so it must not contain the secret).
    """

    @property
    def prefix(self) -> str:
        """The prefix this resolver answers (``vault`` for ``${vault:...}``)."""
        ...

    def resolve(self, target: str) -> str:
        """The secret ``target`` names."""
        ...


@dataclass(frozen=True)
class EnvSecretResolver:
    """``${env:NAME}``: the environment variable ``NAME`` (``environ`` replaces os.environ)."""

    environ: Mapping[str, str] | None = None
    prefix: str = "env"

    def resolve(self, target: str) -> str:
        """The variable's value; ``LookupError`` when it is not set."""
        environ = os.environ if self.environ is None else self.environ
        value = environ.get(target)
        if value is None:
            raise LookupError(f"the environment variable {target} is not set")
        return value


@dataclass(frozen=True)
class FileSecretResolver:
    """``${file:/path}``: the text of a regular file, at most ``max_bytes`` long.

    The file is opened without blocking and checked after opening, so a FIFO or a
    device put in its place is refused rather than read; one trailing newline (as
    ``echo`` and secret mounts leave) is dropped.
    """

    max_bytes: int = 64 * 1024
    prefix: str = "file"

    def resolve(self, target: str) -> str:
        """The file's text; ``OSError``/``ValueError`` when it cannot be used."""
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(target, flags)
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise ValueError(f"{target} is not a regular file ({file_kind(mode)})")
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = handle.read(self.max_bytes + 1)
        finally:
            os.close(fd)
        if len(data) > self.max_bytes:
            raise ValueError(f"{target} is larger than {self.max_bytes} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{target} is not UTF-8 text") from None
        return text.removesuffix("\n").removesuffix("\r")


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages (``"a FIFO"``)."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def default_resolvers() -> dict[str, SecretResolver]:
    """``env`` and ``file``, the resolvers every configuration has."""
    return {"env": EnvSecretResolver(), "file": FileSecretResolver()}


def parse_reference(value: object) -> tuple[str, str] | None:
    """``(prefix, target)`` when ``value`` is a whole-value reference, else ``None``."""
    if not isinstance(value, str) or not value.startswith("${"):
        return None
    match = _REFERENCE.fullmatch(value)
    return None if match is None else (match["prefix"], match["target"])


def resolve_references(
    merged: Merged,
    specs: Mapping[str, SectionSpec],
    resolvers: Mapping[str, SecretResolver],
) -> tuple[dict[Path, str], list[FieldError]]:
    """Replace every reference in ``merged.data`` by its secret, in place.

    Returns ``({path: reference}, problems)``; a path whose reference failed keeps the
    reference text (it then also fails validation of its own, which is fine: the
    problem names the reference first).
    """
    found: dict[Path, str] = {}
    problems: list[FieldError] = []
    for path, parent, key, value in _leaves(merged.data, ()):
        parsed = parse_reference(value)
        if parsed is None:
            continue
        prefix, target = parsed
        where = ".".join(path)
        source = _history_source(merged, path)
        resolver = resolvers.get(prefix)
        if resolver is None:
            known = ", ".join(sorted(resolvers)) or "none"
            problems.append(
                FieldError(
                    where,
                    f"secret reference {value} has an unknown prefix {prefix!r} "
                    f"(known: {known}); register a SecretResolver for it",
                    source,
                    kind="secret_reference",
                )
            )
            continue
        try:
            secret: object = resolver.resolve(target)
        except Exception as exc:  # noqa: BLE001 - any resolver failure is a config problem
            problems.append(
                FieldError(
                    where,
                    f"secret reference {value} could not be resolved: {error_text(exc)}",
                    source,
                    kind="secret_reference",
                )
            )
            continue
        if not isinstance(secret, str):
            problems.append(
                FieldError(
                    where,
                    f"secret reference {value}: the {prefix!r} resolver returned "
                    f"{with_article(type(secret).__name__)}, not text",
                    source,
                    kind="secret_reference",
                )
            )
            continue
        register_secret(secret)
        found[path] = value
        parent[key] = Secret(secret) if _wants_secret(specs, path) else secret
    return found, problems


def _wants_secret(specs: Mapping[str, SectionSpec], path: Path) -> bool:
    spec = specs.get(path[0])
    node = locate(spec, path) if spec is not None else None
    return node is not None and node.children is None and is_secret_type(node.annotation)


def _leaves(data: dict[str, Any] | list[Any], prefix: Path) -> Iterator[tuple[Path, Any, Any, Any]]:
    """Every scalar under ``data``, inside lists too (``keys: [{secret: ${file:...}}]``):
    its path (list items as their index), its container and its key or index there."""
    items = list(data.items()) if isinstance(data, dict) else list(enumerate(data))
    for key, value in items:
        path = (*prefix, str(key))
        if isinstance(value, dict | list):
            yield from _leaves(value, path)
        else:
            yield path, data, key, value


def _history_source(merged: Merged, path: Path) -> str | None:
    """Where the value at ``path`` came from (a list item: where its list came from)."""
    while path:
        entries = merged.history.get(path)
        if entries:
            return str(entries[-1][0])
        path = path[:-1]
    return None


def resolver_map(resolvers: Sequence[SecretResolver]) -> dict[str, SecretResolver]:
    """The defaults, then ``resolvers`` by prefix (a resolver may replace a default)."""
    found = default_resolvers()
    for resolver in resolvers:
        if not isinstance(resolver, SecretResolver) or not isinstance(resolver.prefix, str):
            raise TypeError(f"{resolver!r} is not a SecretResolver (prefix and resolve())")
        found[resolver.prefix] = resolver
    return found
