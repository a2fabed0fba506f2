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

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymodular._version import parse_version

__all__ = ("Change", "ContractDiff", "Impact", "compare", "required_bump")


class Impact(enum.StrEnum):
    """How a change affects users of the old API."""

    BREAKING = "breaking"
    ADDITIVE = "additive"
    NONE = "none"


@dataclass(frozen=True)
class Change:
    """One difference between two contracts.

    ``path`` is dotted (``pymodular.module.Module.start``), ``kind`` a short code
    (``removed``, ``parameter-required``, ...). For removals of deprecated API,
    ``deprecated`` holds the old announcement (``since``, ``removed_in``).
    """

    impact: Impact
    kind: str
    path: str
    message: str
    deprecated: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        data: dict[str, Any] = {
            "impact": self.impact.value,
            "kind": self.kind,
            "path": self.path,
            "message": self.message,
        }
        if self.deprecated is not None:
            data["deprecated"] = dict(self.deprecated)
        return data


@dataclass(frozen=True)
class ContractDiff:
    """The result of :func:`compare`: the changes and the SemVer verdict."""

    package: str
    old_version: str | None
    new_version: str | None
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> Impact:
        """``breaking`` if a change breaks, else ``additive`` if anything changed, else ``none``."""
        if any(c.impact is Impact.BREAKING for c in self.changes):
            return Impact.BREAKING
        return Impact.ADDITIVE if self.changes else Impact.NONE

    @property
    def breaking(self) -> tuple[Change, ...]:
        """The breaking changes."""
        return tuple(c for c in self.changes if c.impact is Impact.BREAKING)

    @property
    def additive(self) -> tuple[Change, ...]:
        """The additive changes."""
        return tuple(c for c in self.changes if c.impact is Impact.ADDITIVE)

    @property
    def required_bump(self) -> str:
        """The smallest version bump SemVer allows for these changes (see :func:`required_bump`)."""
        return required_bump(self.verdict, self.old_version)

    @property
    def actual_bump(self) -> str | None:
        """``major``, ``minor``, ``patch``, ``none`` or ``downgrade``; ``None`` without versions."""
        if not self.old_version or not self.new_version:
            return None
        old, new = parse_version(self.old_version), parse_version(self.new_version)
        if new < old:
            return "downgrade"
        if new[0] > old[0]:
            return "major"
        if new[1] > old[1]:
            return "minor"
        return "patch" if new[2] > old[2] else "none"

    def policy_violations(self) -> list[str]:
        """What breaks the versioning policy (docs/versioning.md); empty when it holds.

        The version bump must be at least :attr:`required_bump`, and every removal must
        have been announced: deprecated in the old contract with ``removed_in`` at or
        before the new version.
        """
        problems: list[str] = []
        actual = self.actual_bump
        if actual is None:
            problems.append("both contracts need a version to check the version bump")
        elif _RANK[actual] < _RANK[self.required_bump]:
            problems.append(
                f"the changes need a {self.required_bump} release, but {self.old_version} -> "
                f"{self.new_version} is {_article(actual)} {actual} bump"
            )
        for change in self.changes:
            if change.kind != "removed":
                continue
            announced = change.deprecated
            if announced is None:
                problems.append(f"{change.path} was removed without a prior deprecation")
            elif self.new_version and parse_version(self.new_version) < parse_version(
                str(announced.get("removed_in"))
            ):
                problems.append(
                    f"{change.path} was removed before {announced.get('removed_in')}, "
                    "the version its deprecation announced"
                )
        return problems

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view with the verdict and both versions."""
        return {
            "package": self.package,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "verdict": self.verdict.value,
            "required_bump": self.required_bump,
            "actual_bump": self.actual_bump,
            "breaking": len(self.breaking),
            "additive": len(self.additive),
            "changes": [c.as_dict() for c in self.changes],
        }


_RANK = {"downgrade": -1, "none": 0, "patch": 1, "minor": 2, "major": 3}


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def required_bump(verdict: Impact | str, old_version: str | None) -> str:
    """The smallest SemVer bump for a verdict: breaking → major, additive → minor, none → patch.

    Before 1.0 everything moves down one place (breaking → minor, additive → patch), as
    SemVer's "0.y.z is for initial development" allows and Cargo/npm practise.
    """
    impact = Impact(verdict)
    initial = old_version is not None and parse_version(old_version)[0] == 0
    if impact is Impact.BREAKING:
        return "minor" if initial else "major"
    if impact is Impact.ADDITIVE:
        return "patch" if initial else "minor"
    return "patch"


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
        yield from _function(path, old, new)
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


# -- functions ----------------------------------------------------------------------------

_POSITIONAL = ("positional_only", "positional")


def _function(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    if bool(old.get("async")) != bool(new.get("async")):
        now = "async" if new.get("async") else "no longer async"
        yield Change(Impact.BREAKING, "async-changed", path, f"{path} is now {now}")
    if old.get("binding") != new.get("binding"):
        yield Change(
            Impact.BREAKING,
            "binding-changed",
            path,
            f"{path} changed from a {old.get('binding')} to a {new.get('binding')}",
        )
    old_params, new_params = old.get("parameters"), new.get("parameters")
    if old_params is None or new_params is None:
        if old.get("signature") != new.get("signature"):
            yield Change(Impact.BREAKING, "signature-changed", path, f"{path} signature changed")
        return
    yield from _parameters(path, old_params, new_params)
    if old.get("returns") != new.get("returns"):
        yield Change(
            Impact.BREAKING,
            "return-changed",
            path,
            f"{path} now returns {new.get('returns')} instead of {old.get('returns')}",
        )


def _parameters(
    path: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> Iterator[Change]:
    new_by_name = {p["name"]: p for p in new}
    old_by_name = {p["name"]: p for p in old}
    new_kinds = {p["kind"] for p in new}
    old_positional = [p["name"] for p in old if p["kind"] in _POSITIONAL]
    new_positional = [p["name"] for p in new if p["kind"] in _POSITIONAL]
    for param in old:
        name, kind = param["name"], param["kind"]
        where = f"{path}({name})"
        if kind in ("var_positional", "var_keyword"):
            if kind not in new_kinds:
                star = "*" if kind == "var_positional" else "**"
                yield Change(
                    Impact.BREAKING,
                    "parameter-removed",
                    where,
                    f"{path} no longer accepts {star}{name}",
                )
            continue
        other = new_by_name.get(name)
        if other is None:
            absorbed = kind == "keyword_only" and "var_keyword" in new_kinds
            if not absorbed:
                yield Change(
                    Impact.BREAKING,
                    "parameter-removed",
                    where,
                    f"{path}: parameter {name!r} was removed",
                )
            continue
        yield from _parameter(path, where, param, other)
        if (
            kind in _POSITIONAL
            and other["kind"] in _POSITIONAL
            and old_positional.index(name) != new_positional.index(name)
        ):
            yield Change(
                Impact.BREAKING,
                "parameter-moved",
                where,
                f"{path}: parameter {name!r} moved from position {old_positional.index(name) + 1} "
                f"to {new_positional.index(name) + 1}",
            )
    for param in new:
        if param["name"] in old_by_name:
            continue
        where = f"{path}({param['name']})"
        if param["required"]:
            yield Change(
                Impact.BREAKING,
                "parameter-added",
                where,
                f"{path}: new required parameter {param['name']!r}",
            )
        else:
            yield Change(
                Impact.ADDITIVE,
                "parameter-added",
                where,
                f"{path}: new optional parameter {param['name']!r}",
            )


_KIND_BREAKS = {
    ("positional", "keyword_only"): "can no longer be passed by position",
    ("positional", "positional_only"): "can no longer be passed by keyword",
    ("keyword_only", "positional_only"): "can no longer be passed by keyword",
    ("positional_only", "keyword_only"): "can no longer be passed by position",
}


def _parameter(
    path: str, where: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[Change]:
    name = old["name"]
    pair = (old["kind"], new["kind"])
    if pair in _KIND_BREAKS:
        yield Change(
            Impact.BREAKING, "parameter-kind", where, f"{path}: {name!r} {_KIND_BREAKS[pair]}"
        )
    elif old["kind"] != new["kind"]:
        yield Change(
            Impact.ADDITIVE,
            "parameter-kind",
            where,
            f"{path}: {name!r} is now {new['kind'].replace('_', '-')}",
        )
    if not old["required"] and new["required"]:
        yield Change(
            Impact.BREAKING, "parameter-required", where, f"{path}: {name!r} is now required"
        )
    elif old["required"] and not new["required"]:
        yield Change(
            Impact.ADDITIVE, "parameter-optional", where, f"{path}: {name!r} is now optional"
        )
    elif old.get("default") != new.get("default"):
        yield Change(
            Impact.ADDITIVE,
            "default-changed",
            where,
            f"{path}: default of {name!r} changed from {old.get('default')} "
            f"to {new.get('default')}",
        )
    if old.get("annotation") != new.get("annotation"):
        yield Change(
            Impact.BREAKING,
            "type-changed",
            where,
            f"{path}: {name!r} changed type from {old.get('annotation')} "
            f"to {new.get('annotation')}",
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
        yield from _function(f"{path}()", old_sig, new_sig)
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
