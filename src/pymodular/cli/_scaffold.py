"""``pymodular new module|app``: render a template directory into a new project.

Templates live in ``templates/<kind>/`` as ``*.tmpl`` files rendered with
:class:`string.Template` (``${package}``, ``${prefix}``, ...); ``__package__`` in a path
becomes the Python package name and a leading ``dot-`` becomes ``.``.

A new project is rendered into a temporary sibling directory and renamed into place,
so a failure leaves nothing half-written. An existing non-empty directory is refused
unless ``force`` is given; then only the generated files are (re)written and
everything else in the directory is left alone.
"""

from __future__ import annotations

import contextlib
import keyword
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

from pymodular._version import __version__
from pymodular.cli._errors import FileSystemError, UsageError

__all__ = ("KINDS", "Names", "Scaffold", "names_for", "render", "scaffold")

KINDS = ("module", "app")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_MAX_NAME = 50
_RESERVED = frozenset({"pymodular", "test", "tests", "conftest", "setup", "site", "src"})


@dataclass(frozen=True)
class Names:
    """Every spelling of a scaffold name the templates use."""

    name: str
    """As given: the directory and distribution name (``my-cache``)."""
    package: str
    """The Python package, also the module name and config section (``my_cache``)."""
    prefix: str
    """The class-name prefix (``MyCache``)."""
    env: str
    """The environment token (``MY_CACHE``)."""

    def mapping(self) -> dict[str, str]:
        """The template variables."""
        return {
            "name": self.name,
            "package": self.package,
            "module_name": self.package,
            "prefix": self.prefix,
            "env": self.env,
            "core_version": __version__,
        }


def names_for(name: str) -> Names:
    """Validate ``name`` and derive its spellings; raise :class:`UsageError` when invalid."""
    shown = name if len(name) <= _MAX_NAME else name[:_MAX_NAME] + "..."
    if len(name) > _MAX_NAME:
        raise UsageError(f"invalid name {shown!r}: at most {_MAX_NAME} characters")
    if not _NAME.match(name):
        raise UsageError(
            f"invalid name {shown!r}: use lower-case letters and digits, separated by single "
            "'-' or '_', starting with a letter (for example 'my-cache')"
        )
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise UsageError(f"invalid name {name!r}: {package!r} is a Python keyword")
    if package in sys.stdlib_module_names or package in _RESERVED:
        what = "the standard library module" if package in sys.stdlib_module_names else "the name"
        raise UsageError(
            f"invalid name {name!r}: the package {package!r} would shadow {what} "
            f"{package!r}; pick another name"
        )
    prefix = "".join(part.capitalize() for part in package.split("_"))
    return Names(name=name, package=package, prefix=prefix, env=package.upper())


@dataclass
class Scaffold:
    """What :func:`scaffold` wrote."""

    kind: str
    names: Names
    root: Path
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """Human-readable result with the next steps."""
        lines = [
            f"created {self.kind} {self.names.name!r} in {self.root} ({len(self.files)} files)"
        ]
        lines.extend(f"  {path.relative_to(self.root)}" for path in self.files)
        lines.append("next:")
        lines.append(f"  cd {self.root}")
        if self.kind == "module":
            lines.append('  pip install -e ".[dev]" && pytest')
        else:
            lines.append(f"  python -m {self.names.package}")
        return "\n".join(lines)


def _templates(kind: str) -> list[tuple[str, str]]:
    """``(relative path, template text)`` of every file of ``kind``, sorted."""
    base = resources.files("pymodular.cli").joinpath("templates", kind)
    found: list[tuple[str, str]] = []

    def walk(node: resources.abc.Traversable, prefix: str) -> None:
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif child.name.endswith(".tmpl"):
                found.append((rel, child.read_text(encoding="utf-8")))

    walk(base, "")
    return sorted(found)


def render(kind: str, names: Names) -> dict[str, str]:
    """Render the templates of ``kind``: ``{relative output path: text}``."""
    if kind not in KINDS:
        raise UsageError(f"unknown scaffold kind {kind!r}; expected one of {', '.join(KINDS)}")
    variables = names.mapping()
    files: dict[str, str] = {}
    for rel, text in _templates(kind):
        out = rel.removesuffix(".tmpl").replace("__package__", names.package)
        out = "/".join(
            "." + part.removeprefix("dot-") if part.startswith("dot-") else part
            for part in out.split("/")
        )
        files[out] = Template(text).substitute(variables)
    return files


def scaffold(kind: str, name: str, directory: Path, *, force: bool = False) -> Scaffold:
    """Create a ``kind`` project called ``name`` in ``directory/name``."""
    names = names_for(name)
    files = render(kind, names)
    root = directory / name
    if root.exists() and not root.is_dir():
        raise FileSystemError(f"{str(root)!r} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()):
        if not force:
            raise FileSystemError(
                f"{str(root)!r} exists and is not empty; pass --force to write into it "
                "(generated files are replaced, other files are kept)"
            )
        written = _write_in_place(root, files)
    else:
        written = _write_fresh(root, files)
    return Scaffold(kind=kind, names=names, root=root, files=written)


def _write_fresh(root: Path, files: dict[str, str]) -> list[Path]:
    parent = root.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=parent))
    except OSError as exc:
        raise FileSystemError(f"cannot create {str(root)!r}: {_reason(exc)}") from exc
    try:
        for rel, text in files.items():
            _write(staging / rel, text)
        with contextlib.suppress(FileNotFoundError):
            root.rmdir()  # an empty directory was there: replace it
        os.rename(staging, root)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise FileSystemError(f"cannot create {str(root)!r}: {_reason(exc)}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [root / rel for rel in files]


def _write_in_place(root: Path, files: dict[str, str]) -> list[Path]:
    written: list[Path] = []
    for rel, text in files.items():
        target = root / rel
        try:
            _write(target, text)
        except OSError as exc:
            raise FileSystemError(f"cannot write {str(target)!r}: {_reason(exc)}") from exc
        written.append(target)
    return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a replaced file is never half-written.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
