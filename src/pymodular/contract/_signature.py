"""Rules for functions and their parameters (see :mod:`pymodular.contract._diff`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pymodular.contract._change import Change, Impact

__all__ = ("function_changes",)


_POSITIONAL = ("positional_only", "positional")


def function_changes(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
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
