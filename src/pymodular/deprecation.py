"""Deprecating public API the way docs/versioning.md promises (FR-050).

A deprecated function, method or class keeps working for at least one minor release
and warns at every use, naming the version it was deprecated in, the version it will
be removed in and what to use instead::

    from pymodular.deprecation import deprecated

    @deprecated(since="0.3.0", removed_in="0.4.0", alternative="Application.run")
    def serve(app): ...

    serve(app)   # PymodularDeprecationWarning: serve is deprecated since 0.3.0 and
                 # will be removed in 0.4.0; use Application.run instead.

:func:`warn_deprecated` covers what a decorator cannot (a parameter, a value, a
behaviour); :func:`deprecated_alias` keeps a renamed module attribute importable.
Every declared deprecation is recorded (:func:`deprecations`) and stamped on the
object (``__pymodular_deprecated__``), so ``pymodular contract extract`` lists it and
``pymodular contract diff --check-version`` can tell a scheduled removal from an
unannounced one.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pymodular._version import __version__, parse_version

__all__ = (
    "Deprecation",
    "PymodularDeprecationWarning",
    "deprecated",
    "deprecated_alias",
    "deprecations",
    "warn_deprecated",
)

T = TypeVar("T")

ATTRIBUTE = "__pymodular_deprecated__"


class PymodularDeprecationWarning(DeprecationWarning):
    """Warned when deprecated pymodular API (or a module's API) is used."""


@dataclass(frozen=True)
class Deprecation:
    """One announced deprecation: what, since when, until when, and what instead."""

    name: str
    since: str
    removed_in: str
    alternative: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        since = parse_version(self.since)
        removed = parse_version(self.removed_in)
        if removed[:2] <= since[:2]:
            raise ValueError(
                f"{self.name}: removed_in={self.removed_in!r} must be at least one minor "
                f"release after since={self.since!r} (deprecations ship for a minor release "
                "before removal)"
            )

    @property
    def message(self) -> str:
        """The warning text."""
        text = (
            f"{self.name} is deprecated since {self.since} and will be removed in {self.removed_in}"
        )
        if self.reason:
            text += f" ({self.reason})"
        if self.alternative:
            text += f"; use {self.alternative} instead"
        return text + "."

    def is_due(self, version: str = __version__) -> bool:
        """Whether ``version`` is the removal version or later (the API should be gone)."""
        return parse_version(version) >= parse_version(self.removed_in)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (used by API contracts)."""
        return {
            "since": self.since,
            "removed_in": self.removed_in,
            "alternative": self.alternative,
            "reason": self.reason,
        }


_registry: dict[str, Deprecation] = {}


def deprecations() -> Mapping[str, Deprecation]:
    """Every deprecation declared so far in this process, by qualified name."""
    return dict(_registry)


def _record(deprecation: Deprecation) -> Deprecation:
    _registry[deprecation.name] = deprecation
    return deprecation


def warn_deprecated(
    name: str,
    *,
    since: str,
    removed_in: str,
    alternative: str | None = None,
    reason: str = "",
    stacklevel: int = 2,
) -> None:
    """Warn that ``name`` (a parameter, a value, a behaviour) is deprecated.

    ``stacklevel`` counts from the caller of this function, as in :func:`warnings.warn`.
    """
    deprecation = _record(Deprecation(name, since, removed_in, alternative, reason))
    warnings.warn(deprecation.message, PymodularDeprecationWarning, stacklevel=stacklevel + 1)


def deprecated(
    *,
    since: str,
    removed_in: str,
    alternative: str | None = None,
    reason: str = "",
    name: str | None = None,
) -> Callable[[T], T]:
    """Mark a function, method or class deprecated; it warns at each call or instantiation.

    ``removed_in`` must be at least one minor release after ``since`` (a
    :class:`ValueError` when this is called otherwise). ``name`` defaults to the object's
    ``module.qualname``. Async functions warn when called, before awaiting.
    """
    Deprecation(name or "deprecated API", since, removed_in)  # validate the versions now

    def decorate(obj: T) -> T:
        label = name or _label(obj)
        deprecation = _record(Deprecation(label, since, removed_in, alternative, reason))
        if isinstance(obj, type):
            return cast("T", _deprecate_class(obj, deprecation))
        if isinstance(obj, staticmethod | classmethod):
            wrapped = _deprecate_function(obj.__func__, deprecation)
            return cast("T", type(obj)(wrapped))
        if callable(obj):
            return cast("T", _deprecate_function(obj, deprecation))
        raise TypeError(f"@deprecated applies to functions, methods and classes, not {obj!r}")

    return decorate


def _label(obj: Any) -> str:
    target = obj.__func__ if isinstance(obj, staticmethod | classmethod) else obj
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or repr(target)
    return f"{module}.{qualname}" if module else qualname


def _deprecate_function(func: Callable[..., Any], deprecation: Deprecation) -> Callable[..., Any]:
    message = deprecation.message
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(message, PymodularDeprecationWarning, stacklevel=2)
            return await func(*args, **kwargs)

        wrapper: Callable[..., Any] = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(message, PymodularDeprecationWarning, stacklevel=2)
            return func(*args, **kwargs)

        wrapper = sync_wrapper
    _stamp(wrapper, deprecation)
    return wrapper


def _deprecate_class(cls: type[Any], deprecation: Deprecation) -> type[Any]:
    message = deprecation.message
    original_init = cls.__init__

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - replaces __init__
        if type(self) is cls:  # a subclass warned at its definition already
            warnings.warn(message, PymodularDeprecationWarning, stacklevel=2)
        original_init(self, *args, **kwargs)

    original_subclass_hook = cls.__dict__.get("__init_subclass__")

    def __init_subclass__(sub: type[Any], /, **kwargs: Any) -> None:  # noqa: N807 - class hook
        warnings.warn(
            f"{sub.__qualname__} subclasses a deprecated class: {message}",
            PymodularDeprecationWarning,
            stacklevel=2,
        )
        if original_subclass_hook is not None:
            original_subclass_hook.__func__(sub, **kwargs)
        else:
            super(cls, sub).__init_subclass__(**kwargs)

    cls.__init__ = __init__
    cls.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    _stamp(cls, deprecation)
    return cls


def _stamp(obj: Any, deprecation: Deprecation) -> None:
    setattr(obj, ATTRIBUTE, deprecation)
    # PEP 702's runtime marker, read by IDEs and type checkers that inspect objects.
    obj.__deprecated__ = deprecation.message


def deprecated_alias(
    module: str,
    aliases: Mapping[str, tuple[str, Any, str, str]],
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that keeps renamed attributes importable, with a warning.

    ``aliases`` maps each old name to ``(new_name, object, since, removed_in)``::

        __getattr__ = deprecated_alias(
            __name__, {"OldThing": ("NewThing", NewThing, "0.3.0", "0.4.0")}
        )
    """
    records = {
        old: (
            _record(
                Deprecation(f"{module}.{old}", since, removed_in, alternative=f"{module}.{new}")
            ),
            obj,
        )
        for old, (new, obj, since, removed_in) in aliases.items()
    }

    def __getattr__(attr: str) -> Any:  # noqa: N807 - a module-level hook
        try:
            deprecation, obj = records[attr]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {attr!r}") from None
        warnings.warn(deprecation.message, PymodularDeprecationWarning, stacklevel=2)
        return obj

    return __getattr__
