"""Extracting a package's public API as plain data (FR-050).

The public API of a package is every public module (the package and its submodules
whose names do not start with ``_``; ``tests`` and ``__main__`` are skipped) and, in
each, the names listed in ``__all__`` — or, without ``__all__``, the classes and
functions the module defines under public names. Each name is described by what a
caller depends on: signatures (parameter names, kinds, defaults, annotations), class
members, config fields (type, default, required, dynamic, secret), module
declarations (name, section, dependencies, minimum core version) and deprecations.
Docstrings and descriptions are left out: changing them changes no caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import fnmatch
import functools
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

from pymodular._syspath import first_on_path
from pymodular._version import __version__
from pymodular.contract._annotation import annotation_text, value_text
from pymodular.contract._errors import ContractImportError
from pymodular.deprecation import ATTRIBUTE as DEPRECATED

__all__ = ("SCHEMA", "describe_object", "extract")

SCHEMA = "pymodular.contract/1"

_SKIPPED_MODULES = frozenset({"__main__", "tests", "test", "conftest"})
_PUBLIC_DUNDERS = frozenset(
    {
        "__call__", "__enter__", "__exit__", "__aenter__", "__aexit__", "__iter__",
        "__aiter__", "__next__", "__anext__", "__getitem__", "__setitem__", "__delitem__",
        "__contains__", "__len__", "__bool__", "__await__", "__get__", "__set__",
    }
)  # fmt: skip
_MAX_DEPTH = 2


def extract(
    package: str,
    *,
    exclude: Iterable[str] = (),
    include_private: bool = False,
    path: Any = None,
) -> dict[str, Any]:
    """Describe the public API of the importable ``package`` as a JSON-serialisable dict.

    ``exclude`` holds globs of dotted module names to skip (``"pkg.contrib.*"``).
    ``path`` is put first on ``sys.path`` while importing. Raises
    :class:`~pymodular.contract.ContractImportError` naming the module that failed to
    import.
    """
    patterns = tuple(exclude)
    with _on_path(path):
        root = _import(package)
        modules: dict[str, Any] = {}
        for module in _walk(root, patterns, include_private):
            modules[module.__name__] = {"names": _exports(module, package, include_private)}
    return {
        "schema": SCHEMA,
        "package": package,
        "version": _version_of(root),
        "generator": f"pymodular {__version__}",
        "modules": dict(sorted(modules.items())),
    }


def _on_path(path: Any) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext() if path is None else first_on_path(path)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        detail = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {detail[0]}" if detail else type(exc).__name__
        hint = " (skip it with --exclude)" if "." in name else ""
        raise ContractImportError(
            f"importing {name!r} failed: {reason}{hint}", module=name
        ) from exc


def _walk(
    root: ModuleType, exclude: tuple[str, ...], include_private: bool
) -> Iterator[ModuleType]:
    yield root
    search = getattr(root, "__path__", None)
    if search is None:
        return
    for info in sorted(pkgutil.iter_modules(search), key=lambda i: i.name):
        name = f"{root.__name__}.{info.name}"
        if info.name in _SKIPPED_MODULES or info.name.startswith("test_"):
            continue
        if info.name.startswith("_") and not include_private:
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in exclude):
            continue
        yield from _walk(_import(name), exclude, include_private)


def _version_of(root: ModuleType) -> str | None:
    version = getattr(root, "__version__", None)
    if isinstance(version, str):
        return version
    from importlib import metadata

    try:
        return metadata.version(root.__name__.split(".")[0])
    except metadata.PackageNotFoundError:
        return None


def _exports(module: ModuleType, package: str, include_private: bool) -> dict[str, Any]:
    declared = getattr(module, "__all__", None)
    if isinstance(declared, list | tuple) and all(isinstance(n, str) for n in declared):
        names: list[str] = list(declared)
    else:
        names = [
            name
            for name, value in vars(module).items()
            if (include_private or not name.startswith("_"))
            and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", None) == module.__name__
        ]
    described: dict[str, Any] = {}
    for name in sorted(set(names)):
        if not hasattr(module, name):
            described[name] = {"kind": "missing"}
            continue
        described[name] = describe_object(getattr(module, name), package)
    return described


def describe_object(obj: Any, package: str, *, depth: int = 0) -> dict[str, Any]:
    """Describe one exported object; ``package`` bounds which base classes are followed."""
    if isinstance(obj, ModuleType):
        return {"kind": "module", "target": obj.__name__}
    if isinstance(obj, type):
        return _class(obj, package, depth)
    if isinstance(obj, typing.TypeVar | typing.ParamSpec) or typing.get_origin(obj) is not None:
        return {"kind": "alias", "value": annotation_text(obj)}
    if inspect.isroutine(obj):
        return _function(obj)
    data: dict[str, Any] = {"kind": "variable", "type": type(obj).__qualname__}
    if obj is None or isinstance(obj, bool | int | float | str | bytes | enum.Enum):
        data["value"] = value_text(obj)
    return data


def _deprecation(obj: Any) -> dict[str, Any] | None:
    record = (
        obj.__dict__.get(DEPRECATED) if isinstance(obj, type) else getattr(obj, DEPRECATED, None)
    )
    as_dict = getattr(record, "as_dict", None)
    return as_dict() if callable(as_dict) else None


_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def _function(func: Callable[..., Any], binding: str | None = None) -> dict[str, Any]:
    target = inspect.unwrap(func)
    data: dict[str, Any] = {
        "kind": "function",
        "async": inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target),
    }
    if binding:
        data["binding"] = binding
    data.update(_signature(func))
    deprecation = _deprecation(func)
    if deprecation:
        data["deprecated"] = deprecation
    return data


def _signature(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return {"parameters": None, "returns": None, "signature": None}
    parameters = []
    for param in signature.parameters.values():
        has_default = param.default is not param.empty
        parameters.append(
            {
                "name": param.name,
                "kind": _KINDS[param.kind],
                "annotation": annotation_text(param.annotation),
                "required": not has_default
                and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD),
                "default": value_text(param.default) if has_default else None,
            }
        )
    returns = annotation_text(signature.return_annotation)
    return {"parameters": parameters, "returns": returns, "signature": _render(signature)}


def _render(signature: inspect.Signature) -> str:
    parts: list[str] = []
    star_done = False
    slash_pending = False
    for param in signature.parameters.values():
        kind = param.kind
        if kind is param.POSITIONAL_ONLY:
            slash_pending = True
        elif slash_pending:
            parts.append("/")
            slash_pending = False
        if kind is param.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        prefix = "*" if kind is param.VAR_POSITIONAL else "**" if kind is param.VAR_KEYWORD else ""
        if kind is param.VAR_POSITIONAL:
            star_done = True
        text = prefix + param.name
        annotation = annotation_text(param.annotation)
        if annotation:
            text += f": {annotation}"
        if param.default is not param.empty:
            text += (
                f" = {value_text(param.default)}" if annotation else f"={value_text(param.default)}"
            )
        parts.append(text)
    if slash_pending:
        parts.append("/")
    returns = annotation_text(signature.return_annotation)
    return f"({', '.join(parts)})" + (f" -> {returns}" if returns else "")


def _is_pydantic_model(cls: type[Any]) -> bool:
    return any(
        base.__module__.startswith("pydantic") and base.__name__ == "BaseModel"
        for base in cls.__mro__
    )


def _is_protocol(cls: type[Any]) -> bool:
    return bool(getattr(cls, "_is_protocol", False)) and typing.Protocol in cls.__mro__


def _class(cls: type[Any], package: str, depth: int) -> dict[str, Any]:
    root = package.split(".", maxsplit=1)[0]
    data: dict[str, Any] = {
        "kind": "class",
        "bases": [
            annotation_text(b)
            for b in cls.__mro__[1:]
            if b is not object and b is not typing.Generic
        ],
    }
    pydantic = _is_pydantic_model(cls)
    if _is_protocol(cls):
        data["protocol"] = True
    abstract = sorted(getattr(cls, "__abstractmethods__", ()))
    if abstract:
        data["abstract"] = abstract
    if issubclass(cls, enum.Enum):
        data["enum"] = {m.name: value_text(m.value) for m in cls}
    elif not pydantic and not data.get("protocol"):
        init = _constructor(cls)
        if init is not None:
            data["init"] = init
    if depth < _MAX_DEPTH:
        data["members"] = _members(
            cls, root, package, depth, skip=_model_fields(cls) if pydantic else set()
        )
    if pydantic:
        data["config_fields"] = _config_fields(cls)
    module = _module_declaration(cls)
    if module is not None:
        data["module"] = module
    deprecation = _deprecation(cls)
    if deprecation:
        data["deprecated"] = deprecation
    return data


def _constructor(cls: type[Any]) -> dict[str, Any] | None:
    """The signature of ``cls(...)`` when a class other than ``object`` defines one."""
    if not any("__init__" in k.__dict__ or "__new__" in k.__dict__ for k in cls.__mro__[:-1]):
        return None
    described = _signature(cls)
    return None if described["parameters"] is None else described


def _model_fields(cls: type[Any]) -> set[str]:
    fields = getattr(cls, "model_fields", {})
    return set(fields) if isinstance(fields, dict) else set()


def _members(
    cls: type[Any], root: str, package: str, depth: int, *, skip: set[str]
) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass is object or klass.__module__.split(".")[0] != root:
            continue
        annotations = inspect.get_annotations(klass)
        for name, value in klass.__dict__.items():
            if name in members or name in skip or not _public_member(name):
                continue
            described = _member(value, package, depth)
            if described["kind"] == "attribute" and name in annotations:
                described["type"] = annotation_text(annotations[name])
            members[name] = described
        for name, annotation in annotations.items():
            if name in members or name in skip or not _public_member(name):
                continue
            members[name] = {"kind": "attribute", "type": annotation_text(annotation)}
        if dataclasses.is_dataclass(klass):
            for f in dataclasses.fields(klass):
                if f.name in members and members[f.name].get("kind") == "attribute":
                    members[f.name]["type"] = annotation_text(f.type)
    return dict(sorted(members.items()))


def _public_member(name: str) -> bool:
    return not name.startswith("_") or name in _PUBLIC_DUNDERS


def _member(value: Any, package: str, depth: int) -> dict[str, Any]:
    if isinstance(value, staticmethod):
        return _function(value.__func__, "staticmethod")
    if isinstance(value, classmethod):
        return _function(value.__func__, "classmethod")
    if isinstance(value, property):
        getter = value.fget
        returns = None
        if getter is not None:
            try:
                returns = annotation_text(inspect.signature(getter).return_annotation)
            except (TypeError, ValueError):
                returns = None
        return {"kind": "property", "type": returns, "settable": value.fset is not None}
    if isinstance(value, functools.cached_property):
        returns = annotation_text(inspect.signature(value.func).return_annotation)
        return {"kind": "property", "type": returns, "settable": True}
    if inspect.isfunction(value):
        return _function(value, "method")
    if isinstance(value, type):
        return _class(value, package, depth + 1)
    if isinstance(value, enum.Enum):
        return {"kind": "attribute", "type": type(value).__qualname__}
    return {"kind": "attribute", "type": annotation_text(type(value))}


def _config_fields(model: type[Any]) -> dict[str, Any]:
    from pymodular.config import describe_fields

    fields: dict[str, Any] = {}
    for info in describe_fields(model):
        default = None if info.required else value_text(info.default)
        fields[info.path] = {
            "type": annotation_text(info.annotation) or info.type,
            "required": info.required,
            "default": default,
            "dynamic": info.dynamic,
            "secret": info.secret,
        }
    return fields


def _module_declaration(cls: type[Any]) -> dict[str, Any] | None:
    from pymodular.module import Module

    if not issubclass(cls, Module) or cls is Module:
        return None
    model = cls.config_model
    name = cls.__dict__.get("name", cls.name) or None
    return {
        "name": name,
        "config_section": cls.config_section or name,
        "config_model": model.__qualname__ if isinstance(model, type) else None,
        "depends_on": sorted(cls.depends_on) if not isinstance(cls.depends_on, str) else [],
        "requires": sorted(
            f"{d.describe()}{' (optional)' if d.optional else ''}" for d in cls.requires
        ),
        "min_core_version": cls.min_core_version,
        "optional": bool(cls.optional) if isinstance(cls.optional, bool) else False,
    }
