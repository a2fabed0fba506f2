"""Resolving ``TARGET`` (``package.module:attribute``) to an application or modules.

A target names a module to import and, after a colon, an attribute in it (dots walk
into objects: ``main:container.app``). The attribute may be an
:class:`~pymodular.Application` or a zero-argument callable returning one. Without an
attribute the names ``app``, ``application`` and ``create_app`` are tried in that order
(submodules are skipped: a package's ``app.py`` is not its application). A path works
as well (``src/service/main.py:app``, ``shop/``): a file inside a package is imported
under its dotted name from the directory above the package, so its absolute imports work.

Every failure becomes a :class:`TargetError` whose one-line message says what was
looked for and what was found; the original exception is chained for ``--debug``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from contextlib import AbstractContextManager, redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pymodular._syspath import first_on_path
from pymodular._text import snake_case, with_article
from pymodular.cli._errors import TargetError
from pymodular.secrets import redact

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import SectionSpec

__all__ = (
    "DEFAULT_ATTRIBUTES",
    "import_module",
    "import_target",
    "load_application",
    "section_specs",
)

DEFAULT_ATTRIBUTES = ("app", "application", "create_app")
_MODULE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ATTRIBUTE_PATH = _MODULE_PATH


def on_path(app_dir: str | os.PathLike[str] | None) -> AbstractContextManager[None]:
    """Put ``app_dir`` (default: the working directory) first on ``sys.path`` while importing."""
    return first_on_path(app_dir or ".")


def import_module(name: str, *, app_dir: str | os.PathLike[str] | None = None) -> ModuleType:
    """Import the module ``name`` (dotted), or the file or package directory ``name`` (path)."""
    if name.endswith(".py") or os.sep in name or "/" in name:
        return _import_path(Path(name), app_dir)
    if not _MODULE_PATH.match(name):
        raise TargetError(
            f"{name!r} is not an importable module path (expected 'package.module:attribute')"
        )
    with on_path(app_dir), _stdout_to_stderr():
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing == name or name.startswith(missing + "."):
                raise TargetError(
                    f"no module named {missing!r} (run from the project directory, pass "
                    "--app-dir, or install the package)",
                    missing=missing,
                ) from exc
            raise _import_failed(name, exc) from exc
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise _import_failed(name, exc) from exc


def _stdout_to_stderr() -> AbstractContextManager[object]:
    """While user code loads, what it prints goes to stderr: stdout carries the output
    (``-f json``) and must stay parseable."""
    return redirect_stdout(sys.stderr)


def _import_path(path: Path, app_dir: str | os.PathLike[str] | None) -> ModuleType:
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            raise TargetError(f"{str(path)!r} is a directory without __init__.py, not a package")
        path = path / "__init__.py"
    if not path.is_file():
        raise TargetError(f"no such file: {str(path)!r}")
    dotted = _dotted_name(path.resolve())
    if dotted is None:
        return _import_file(path, app_dir)
    root, name = dotted
    return import_module(name, app_dir=root)


def _dotted_name(path: Path) -> tuple[Path, str] | None:
    """``(directory above the package, "pkg.sub.mod")`` for a file inside a package."""
    parts = [] if path.stem == "__init__" else [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory.name.isidentifier():
        parts.insert(0, directory.name)
        directory = directory.parent
    if not parts or directory == path.parent:
        return None
    return directory, ".".join(parts)


def _import_file(path: Path, app_dir: str | os.PathLike[str] | None) -> ModuleType:
    name = path.stem
    if not name.isidentifier():
        raise TargetError(f"{str(path)!r} cannot be imported: {name!r} is not a Python identifier")
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_pymodular_target_{name}", path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always get a loader
        raise TargetError(f"{str(path)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    with on_path(app_dir), on_path(path.parent), _stdout_to_stderr():
        try:
            spec.loader.exec_module(module)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            sys.modules.pop(spec.name, None)
            raise _import_failed(str(path), exc) from exc
    return module


def _import_failed(name: str, exc: BaseException) -> TargetError:
    hint = "--debug shows the traceback"
    if isinstance(exc, ModuleNotFoundError):
        hint = "install it, or run from the directory that holds it or pass --app-dir DIR; " + hint
    return TargetError(
        f"importing {name!r} failed: {_one_line(exc)} ({hint})", cause=type(exc).__name__
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    if isinstance(exc, SyntaxError) and exc.filename:
        detail = f"{exc.msg} ({Path(exc.filename).name}, line {exc.lineno})"
    return redact(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


def split_target(target: str) -> tuple[str, str | None]:
    """``"pkg.mod:attr"`` → ``("pkg.mod", "attr")``; a bare module gives ``None``."""
    text = target.strip()
    if not text:
        raise TargetError("the target is empty (expected 'package.module:attribute')")
    # A Windows drive letter ("C:\\app.py") is not an attribute separator.
    head, sep, tail = text.rpartition(":")
    if not sep or (len(head) == 1 and tail.startswith(("\\", "/"))):
        return text, None
    if not head:
        raise TargetError(f"{target!r} has no module before ':' (expected 'package.module:attr')")
    if not _ATTRIBUTE_PATH.match(tail):
        raise TargetError(f"{tail!r} in {target!r} is not an attribute name")
    return head, tail


def import_target(target: str, *, app_dir: str | os.PathLike[str] | None = None) -> Any:
    """Import ``target`` and return the object it names (not called)."""
    module_name, attribute = split_target(target)
    module = import_module(module_name, app_dir=app_dir)
    if attribute is None:
        for candidate in DEFAULT_ATTRIBUTES:
            value = getattr(module, candidate, None)
            if value is not None and not isinstance(value, ModuleType):
                return value
        raise TargetError(
            f"module {module_name!r} has none of the attributes "
            f"{', '.join(DEFAULT_ATTRIBUTES)}; name one: '{module_name}:ATTRIBUTE'"
            f"{_hint(module)}"
        )
    obj: Any = module
    walked = module_name
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(
                f"{walked!r} has no attribute {part!r}{_hint(obj)}", missing=part
            ) from None
        except Exception as exc:
            raise TargetError(f"reading {walked}.{part} failed: {_one_line(exc)}") from exc
        walked = f"{walked}:{part}" if walked == module_name else f"{walked}.{part}"
    return obj


def _hint(obj: object) -> str:
    from pymodular.application import Application
    from pymodular.module import Module

    if not isinstance(obj, ModuleType):
        return ""
    found = sorted(
        name
        for name, value in vars(obj).items()
        if not name.startswith("_")
        and (
            isinstance(value, Application | Module)
            or (inspect.isfunction(value) and value.__module__ == obj.__name__)
        )
    )
    return f" (candidates: {', '.join(found[:8])})" if found else ""


def load_application(target: str, *, app_dir: str | os.PathLike[str] | None = None) -> Application:
    """Import ``target`` and return its :class:`~pymodular.Application`, calling a factory."""
    from pymodular.application import Application

    obj = import_target(target, app_dir=app_dir)
    if isinstance(obj, Application):
        return obj
    if callable(obj) and not isinstance(obj, type):
        _require_no_arguments(target, obj)
        result = _call(target, obj)
        if isinstance(result, Application):
            return result
        if inspect.isawaitable(result):
            close = getattr(result, "close", None)
            if close is not None:
                close()  # an un-awaited coroutine would warn at garbage collection
            raise TargetError(f"{target} returned an awaitable; the factory must be synchronous")
        raise TargetError(f"{target}() returned {_kind(result)}, not a pymodular Application")
    raise TargetError(
        f"{target} is {_kind(obj)}, not a pymodular Application "
        "(or a zero-argument callable returning one)"
    )


def _require_no_arguments(target: str, obj: Any) -> None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # builtins without a signature: just try the call
        return
    needed = [
        p.name
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if needed:
        raise TargetError(
            f"{target} needs arguments ({', '.join(needed)}); "
            "point TARGET at an Application or a zero-argument factory"
        )


def _call(target: str, factory: Any) -> Any:
    from pymodular.errors import PymodularError

    try:
        with _stdout_to_stderr():
            return factory()
    except KeyboardInterrupt:
        raise
    except PymodularError as exc:
        raise TargetError(f"{target}() failed: {exc.message.splitlines()[0]}") from exc
    except BaseException as exc:
        raise TargetError(
            f"{target}() failed: {_one_line(exc)} (--debug shows the traceback)"
        ) from exc


def _kind(obj: object) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, ModuleType):
        return f"the module {obj.__name__}"
    return with_article(type(obj).__name__)


def section_specs(
    targets: list[str], *, app_dir: str | os.PathLike[str] | None = None
) -> tuple[list[SectionSpec], list[Application]]:
    """The configuration sections declared by ``targets``, and the applications among them.

    Each target may name an application (or factory), a module instance, a module
    class, a config model class (its section is its snake-cased name without a
    ``_config`` suffix), or a list/tuple of those. A section declared twice is kept once.
    """
    specs: list[SectionSpec] = []
    apps: list[Application] = []
    for target in targets:
        obj = import_target(target, app_dir=app_dir)
        specs.extend(_specs_of(target, obj, apps))
    seen: dict[str, SectionSpec] = {}
    for spec in specs:
        seen.setdefault(spec.name, spec)
    return list(seen.values()), apps


def _specs_of(target: str, obj: Any, apps: list[Application]) -> list[SectionSpec]:
    from pydantic import BaseModel

    from pymodular.application import Application
    from pymodular.config import SectionSpec
    from pymodular.module import Module

    if isinstance(obj, list | tuple):
        return [spec for item in obj for spec in _specs_of(target, item, apps)]
    if isinstance(obj, Application):
        apps.append(obj)
        return app_specs(obj)
    if isinstance(obj, Module):
        return _module_specs(obj)
    if isinstance(obj, type) and issubclass(obj, Module):
        return _module_specs(_instantiate(target, obj))
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        section = snake_case(obj.__name__).removesuffix("_config") or snake_case(obj.__name__)
        return [SectionSpec(name=section, model=obj)]
    if callable(obj) and not isinstance(obj, type):
        _require_no_arguments(target, obj)
        return _specs_of(target, _call(target, obj), apps)
    raise TargetError(
        f"{target} is {_kind(obj)}; expected an Application, a module, a config model, "
        "or a list of them"
    )


def app_specs(app: Application) -> list[SectionSpec]:
    """The sections ``app`` collects at init, built by the function the application uses."""
    specs: list[SectionSpec] = []
    for record in app.records():
        specs.extend(_module_specs(record.module, record.name))
    return specs


def _module_specs(module: Any, name: str | None = None) -> list[SectionSpec]:
    from pymodular._registration import section_spec

    spec = section_spec(module, name)
    return [] if spec is None else [spec]


def _instantiate(target: str, cls: type[Any]) -> Any:
    if getattr(cls, "name", ""):
        # The class declares everything a section needs; no constructor has to run.
        return object.__new__(cls)
    _require_no_arguments(target, cls)
    return _call(target, cls)
