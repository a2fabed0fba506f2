"""Explaining a failed lookup (FR-034): what was asked, what exists, why none matched."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from pymodular._context import current_module
from pymodular._text import public_label, snake_case
from pymodular.errors import ServiceNotFoundError
from pymodular.services._service import _NOT_SET, ServiceEntry

if TYPE_CHECKING:
    from pymodular.services._registry import ServiceRegistry

__all__ = ("explain_missing", "protocol_members")


_IGNORED = frozenset(
    {
        "__abstractmethods__",
        "__annotations__",
        "__dict__",
        "__doc__",
        "__init__",
        "__module__",
        "__new__",
        "__slots__",
        "__subclasshook__",
        "__weakref__",
        "__class_getitem__",
        "__parameters__",
        "__orig_bases__",
        "__protocol_attrs__",
        "__non_callable_proto_members__",
        "__qualname__",
        "__firstlineno__",
        "__static_attributes__",
        "__type_params__",
    }
)


def protocol_members(proto: type[Any]) -> list[str]:
    """The attribute names a Protocol requires (empty for ordinary classes)."""
    if not getattr(proto, "_is_protocol", False):
        return []
    names: set[str] = set()
    for base in proto.__mro__:
        if base.__name__ in ("Protocol", "Generic", "object"):
            continue
        for attr in (*vars(base), *getattr(base, "__annotations__", {})):
            if attr.startswith(("_abc_", "_is_")) or attr in _IGNORED:
                continue
            names.add(attr)
    return sorted(names)


def _value_of(entry: ServiceEntry) -> Any:
    if entry.value is not _NOT_SET:
        return entry.value
    return _NOT_SET


def _near_misses_for_type(registry: ServiceRegistry, key: type[Any]) -> list[str]:
    notes: list[str] = []
    members = protocol_members(key)
    is_protocol = bool(getattr(key, "_is_protocol", False))
    for entry in registry.entries():
        who = f"service {entry.name or '<unnamed>'!r} from module {entry.provider!r}"
        value = _value_of(entry)
        types = list(entry.service.interfaces)
        if value is not _NOT_SET:
            types += [t for t in type(value).__mro__ if t is not object and t not in types]
        for tp in types:
            if tp is not key and tp.__name__ == key.__name__:
                notes.append(
                    f"{who} is a {public_label(tp)}, a different class with the same name as "
                    f"{public_label(key)} (the same code imported under two module paths?)"
                )
                break
            if tp is not key and isinstance(tp, type) and issubclass(key, tp):
                notes.append(f"{who} is a {public_label(tp)}, a base of {key.__name__}, not one")
                break
        if is_protocol and value is not _NOT_SET and members:
            missing = [m for m in members if not hasattr(value, m)]
            if missing and len(missing) < len(members):
                notes.append(
                    f"{who} ({type(value).__qualname__}) lacks {', '.join(missing)} "
                    f"required by the protocol {key.__name__}"
                )
            elif not missing and not getattr(key, "_is_runtime_protocol", False):
                notes.append(
                    f"{who} has every member of {key.__qualname__}, but that Protocol is "
                    "not @runtime_checkable: declare the service with interface="
                    f"{key.__qualname__}"
                )
        if entry.name and entry.name in (snake_case(key.__name__), key.__name__.lower()):
            shown = type(value).__qualname__ if value is not _NOT_SET else "factory-built service"
            notes.append(f"{who} has the expected name but is a {shown}")
    return list(dict.fromkeys(notes))


def explain_missing(
    registry: ServiceRegistry, key: type[Any] | str, name: str | None
) -> ServiceNotFoundError:
    """Build the not-found error for ``key`` with every useful near miss."""
    asking = current_module.get()
    prefix = f"module {asking[0]!r} ({asking[1]}): " if asking else ""
    notes: list[str] = []
    if isinstance(key, str):
        requested = f"service {key!r}"
        close = difflib.get_close_matches(key, registry.names(), n=3, cutoff=0.6)
        if close:
            notes.append("similar names: " + ", ".join(repr(c) for c in close))
    else:
        requested = public_label(key) + (f" named {name!r}" if name else "")
        if name is not None:
            others = [e.name or "<unnamed>" for e in registry.candidates(key)]
            if others:
                notes.append(
                    f"services of type {key.__qualname__} exist but none is named "
                    f"{name!r}: {', '.join(repr(o) for o in others)}"
                )
        notes.extend(_near_misses_for_type(registry, key))
        hint = getattr(key, "__pymodular_provider__", None)
        if hint:
            notes.append(f"{key.__qualname__} is normally provided by module {hint!r}: add it")
    if not notes:
        existing = ", ".join(repr(n) for n in registry.names()[:10]) or "none"
        notes.append(f"registered service names: {existing}")
    message = f"{prefix}no service matches {requested}. " + "; ".join(notes)
    return ServiceNotFoundError(
        message,
        requested=requested,
        module=asking[0] if asking else None,
        phase=asking[1] if asking else None,
        near_misses=notes,
    )
