"""Comparing two API contracts: every change, classified as breaking or additive.

The rules follow what a caller (or an implementer of a Protocol) of the old API
experiences with the new one:

- **breaking**: a module, name, member, enum member, config field or parameter is
  removed; a kind changes; a parameter becomes required, moves, or may no longer be
  passed the way it was (positional ↔ keyword); a new required parameter or a new
  required config field appears; an annotation changes (parameter, return, field,
  attribute); a function becomes async or stops being async; a Protocol gains a
  member or a class gains an abstract method; a module's name, config section or
  dependencies grow; a dynamic config field stops being dynamic.
- **additive**: everything else that changed — new names, members, optional
  parameters and fields, relaxed requirements, changed defaults, new deprecations.

Pure functions over the dicts that :func:`~pymodular.contract.extract` returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pymodular.contract._change import Change, ContractDiff, Impact
from pymodular.contract._signature import function_changes

__all__ = ("compare",)


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> ContractDiff:
    """Compare two contracts (as returned by ``extract`` or read from JSON)."""
    changes: list[Change] = []
    old_modules: Mapping[str, Any] = old.get("modules", {})
    new_modules: Mapping[str, Any] = new.get("modules", {})
    for name in sorted(old_modules.keys() | new_modules.keys()):
        if name not in new_modules:
            changes.append(_removed(name, "module", None))
        elif name not in old_modules:
            changes.append(Change(Impact.ADDITIVE, "added", name, f"new module {name}"))
        else:
            changes.extend(
                _names(name, old_modules[name].get("names", {}), new_modules[name].get("names", {}))
            )
    return ContractDiff(
        package=str(new.get("package") or old.get("package") or ""),
        old_version=old.get("version"),
        new_version=new.get("version"),
        changes=tuple(changes),
    )


def _removed(path: str, what: str, old: Mapping[str, Any] | None) -> Change:
    deprecated = old.get("deprecated") if old else None
    note = ""
    if deprecated:
        note = (
            f" (deprecated since {deprecated.get('since')}, "
            f"announced for removal in {deprecated.get('removed_in')})"
        )
    return Change(Impact.BREAKING, "removed", path, f"{what} {path} was removed{note}", deprecated)


def _names(module: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    for name in sorted(old.keys() | new.keys()):
        path = f"{module}.{name}"
        if name not in new:
            yield _removed(path, old[name].get("kind", "name"), old[name])
        elif name not in old:
            yield Change(
                Impact.ADDITIVE, "added", path, f"new {new[name].get('kind', 'name')} {path}"
            )
        else:
            yield from _object(path, old[name], new[name])


def _object(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    kind = old.get("kind")
    if kind != new.get("kind"):
        yield Change(
            Impact.BREAKING,
            "kind-changed",
            path,
            f"{path} changed from a {kind} to a {new.get('kind')}",
        )
        return
    if not old.get("deprecated") and new.get("deprecated"):
        d = new["deprecated"]
        yield Change(
            Impact.ADDITIVE,
            "deprecated",
            path,
            f"{path} is now deprecated (since {d.get('since')}, removal in {d.get('removed_in')})",
        )
    if kind == "function":
        yield from function_changes(path, old, new)
    elif kind == "class":
        yield from _class(path, old, new)
    elif kind in ("attribute", "property"):
        yield from _typed(path, old, new, "type")
        if kind == "property" and old.get("settable") and not new.get("settable"):
            yield Change(
                Impact.BREAKING, "read-only", path, f"property {path} can no longer be set"
            )
        elif kind == "property" and not old.get("settable") and new.get("settable"):
            yield Change(Impact.ADDITIVE, "settable", path, f"property {path} can now be set")
    elif kind == "variable":
        yield from _typed(path, old, new, "type")
        if path.rsplit(".", 1)[-1] != "__version__" and old.get("value") != new.get("value"):
            yield Change(
                Impact.ADDITIVE,
                "value-changed",
                path,
                f"{path} changed from {old.get('value')} to {new.get('value')}",
            )
    elif kind == "alias":
        yield from _typed(path, old, new, "value")
    elif kind == "module" and old.get("target") != new.get("target"):
        yield Change(
            Impact.BREAKING, "target-changed", path, f"{path} now refers to {new.get('target')}"
        )


def _typed(path: str, old: Mapping[str, Any], new: Mapping[str, Any], key: str) -> Iterator[Change]:
    if old.get(key) != new.get(key):
        yield Change(
            Impact.BREAKING,
            "type-changed",
            path,
            f"{path} changed type from {old.get(key)} to {new.get(key)}",
        )


# -- classes ------------------------------------------------------------------------------


def _class(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    old_bases, new_bases = old.get("bases", []), new.get("bases", [])
    for base in old_bases:
        if base not in new_bases:
            yield Change(
                Impact.BREAKING, "base-removed", path, f"{path} no longer derives from {base}"
            )
    for base in new_bases:
        if base not in old_bases:
            yield Change(Impact.ADDITIVE, "base-added", path, f"{path} now derives from {base}")
    protocol = bool(new.get("protocol"))
    old_abstract, new_abstract = set(old.get("abstract", [])), set(new.get("abstract", []))
    for name in sorted(new_abstract - old_abstract):
        yield Change(
            Impact.BREAKING,
            "abstract-added",
            f"{path}.{name}",
            f"{path}.{name} is abstract: subclasses must implement it",
        )
    if "init" in old or "init" in new:
        old_init = old.get("init") or {"parameters": [], "returns": None}
        new_init = new.get("init") or {"parameters": [], "returns": None}
        old_sig = {**old_init, "kind": "function", "returns": None}
        new_sig = {**new_init, "kind": "function", "returns": None}
        yield from function_changes(f"{path}()", old_sig, new_sig)
    yield from _members(path, old.get("members", {}), new.get("members", {}), protocol)
    yield from _enum(path, old.get("enum"), new.get("enum"))
    yield from _fields(path, old.get("config_fields"), new.get("config_fields"))
    yield from _module(path, old.get("module"), new.get("module"))


def _members(
    path: str, old: Mapping[str, Any], new: Mapping[str, Any], protocol: bool
) -> Iterator[Change]:
    for name in sorted(old.keys() | new.keys()):
        where = f"{path}.{name}"
        if name not in new:
            yield _removed(where, f"member {old[name].get('kind', '')}".strip(), old[name])
        elif name not in old:
            if protocol:
                yield Change(
                    Impact.BREAKING,
                    "protocol-member-added",
                    where,
                    f"protocol {path} gained {name!r}: existing implementations lack it",
                )
            else:
                yield Change(Impact.ADDITIVE, "added", where, f"new member {where}")
        else:
            yield from _object(where, old[name], new[name])


def _enum(
    path: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> Iterator[Change]:
    if old is None or new is None:
        return
    for name in sorted(old.keys() | new.keys()):
        where = f"{path}.{name}"
        if name not in new:
            yield Change(Impact.BREAKING, "removed", where, f"enum member {where} was removed")
        elif name not in old:
            yield Change(Impact.ADDITIVE, "added", where, f"new enum member {where}")
        elif old[name] != new[name]:
            yield Change(
                Impact.BREAKING,
                "value-changed",
                where,
                f"enum member {where} changed value from {old[name]} to {new[name]}",
            )


def _fields(
    path: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> Iterator[Change]:
    if old is None or new is None:
        return
    for name in sorted(old.keys() | new.keys()):
        where = f"{path}[{name}]"
        if name not in new:
            yield Change(
                Impact.BREAKING,
                "field-removed",
                where,
                f"config field {name!r} of {path} was removed",
            )
            continue
        after = new[name]
        if name not in old:
            if after.get("required"):
                yield Change(
                    Impact.BREAKING,
                    "field-added",
                    where,
                    f"new required config field {name!r} in {path}: "
                    "existing configurations lack it",
                )
            else:
                yield Change(
                    Impact.ADDITIVE, "field-added", where, f"new config field {name!r} in {path}"
                )
            continue
        yield from _field(path, where, name, old[name], after)


def _field(
    path: str, where: str, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[Change]:
    if old.get("type") != new.get("type"):
        yield Change(
            Impact.BREAKING,
            "field-type",
            where,
            f"config field {name!r} of {path} changed type from {old.get('type')} "
            f"to {new.get('type')}",
        )
    if not old.get("required") and new.get("required"):
        yield Change(
            Impact.BREAKING,
            "field-required",
            where,
            f"config field {name!r} of {path} is now required",
        )
    elif old.get("required") and not new.get("required"):
        yield Change(
            Impact.ADDITIVE,
            "field-optional",
            where,
            f"config field {name!r} of {path} now has a default ({new.get('default')})",
        )
    elif old.get("default") != new.get("default"):
        yield Change(
            Impact.ADDITIVE,
            "default-changed",
            where,
            f"default of config field {name!r} of {path} changed from {old.get('default')} "
            f"to {new.get('default')}",
        )
    if old.get("dynamic") and not new.get("dynamic"):
        yield Change(
            Impact.BREAKING,
            "field-static",
            where,
            f"config field {name!r} of {path} is no longer dynamic: changing it needs a restart",
        )
    elif not old.get("dynamic") and new.get("dynamic"):
        yield Change(
            Impact.ADDITIVE,
            "field-dynamic",
            where,
            f"config field {name!r} of {path} is now dynamic",
        )
    if old.get("secret") != new.get("secret"):
        state = "secret" if new.get("secret") else "no longer secret"
        yield Change(
            Impact.ADDITIVE,
            "field-secret",
            where,
            f"config field {name!r} of {path} is now {state}",
        )


def _module(
    path: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> Iterator[Change]:
    if old is None or new is None:
        return
    for key, what in (("name", "module name"), ("config_section", "config section")):
        if old.get(key) != new.get(key):
            yield Change(
                Impact.BREAKING,
                f"{key.replace('_', '-')}-changed",
                path,
                f"{what} of {path} changed from {old.get(key)!r} to {new.get(key)!r}",
            )
    for key, what in (("depends_on", "depends on module"), ("requires", "requires")):
        before, after = set(old.get(key, [])), set(new.get(key, []))
        for item in sorted(after - before):
            impact = Impact.ADDITIVE if item.endswith("(optional)") else Impact.BREAKING
            yield Change(impact, "dependency-added", path, f"{path} now {what} {item}")
        for item in sorted(before - after):
            yield Change(
                Impact.ADDITIVE, "dependency-removed", path, f"{path} no longer {what} {item}"
            )
    if old.get("min_core_version") != new.get("min_core_version"):
        yield Change(
            Impact.ADDITIVE,
            "min-core-version",
            path,
            f"{path} needs pymodular >= {new.get('min_core_version')} "
            f"(was {old.get('min_core_version')})",
        )
