"""Where schema documents come from: a dict, JSON text, a file, a package resource, or a
URL the configuration allows. Every read is bounded in size (and, for URLs, in time)."""

from __future__ import annotations

import importlib.resources
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from pymodular.modules.jsonschema._document import parse_json
from pymodular.modules.jsonschema.errors import (
    DocumentError,
    RemoteReferenceError,
    SchemaError,
)

__all__ = ("fetch", "from_text", "read_file", "read_resource")


def from_text(data: bytes | str, *, max_bytes: int, label: str, yaml_ok: bool = False) -> Any:
    """A schema document from JSON (or YAML when ``yaml_ok``) text."""
    try:
        if yaml_ok:
            if len(data) > max_bytes:
                raise SchemaError(f"{label} has more than {max_bytes} bytes")
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            return yaml.load(data, Loader=loader)  # noqa: S506 - a safe loader
        return parse_json(data, max_bytes=max_bytes)
    except DocumentError as exc:
        raise SchemaError(f"{label} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"{label} is not valid YAML: {exc}") from None


def read_file(path: str | Path, *, max_bytes: int) -> Any:
    """A schema from a ``.json`` (or ``.yaml``/``.yml``) file."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise SchemaError(f"schema file {str(file)!r} has {size} bytes, over {max_bytes}")
        data = file.read_bytes()
    except OSError as exc:
        raise SchemaError(f"schema file {str(file)!r} cannot be read: {exc.strerror}") from None
    return from_text(
        data,
        max_bytes=max_bytes,
        label=f"schema file {str(file)!r}",
        yaml_ok=file.suffix.lower() in (".yaml", ".yml"),
    )


def read_resource(spec: str, *, max_bytes: int) -> Any:
    """A schema shipped in a package: ``"package.module:path/in/package.json"``."""
    package, sep, name = spec.partition(":")
    if not sep or not package or not name:
        raise SchemaError(f"resource {spec!r} is not 'package:path/to/schema.json'")
    try:
        data = importlib.resources.files(package).joinpath(name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise SchemaError(f"resource {spec!r} cannot be read: {exc}") from None
    return from_text(
        data,
        max_bytes=max_bytes,
        label=f"resource {spec!r}",
        yaml_ok=name.lower().endswith((".yaml", ".yml")),
    )


def fetch(uri: str, *, timeout: float, max_bytes: int) -> Any:
    """A schema document from an ``http(s)://`` or ``file://`` URI (allowed by the caller)."""
    if not uri.startswith(("http://", "https://", "file://")):
        raise RemoteReferenceError(f"cannot fetch {uri!r}: only http, https and file URIs")
    request = urllib.request.Request(uri, headers={"Accept": "application/schema+json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data = response.read(max_bytes + 1)
    except OSError as exc:
        raise RemoteReferenceError(f"fetching {uri!r} failed: {exc}") from None
    if len(data) > max_bytes:
        raise RemoteReferenceError(f"{uri!r} has more than {max_bytes} bytes")
    try:
        return parse_json(data, max_bytes=max_bytes)
    except DocumentError as exc:
        raise RemoteReferenceError(f"{uri!r} is not a JSON schema: {exc}") from None
