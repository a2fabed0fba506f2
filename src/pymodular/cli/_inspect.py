"""``pymodular inspect``: an application's modules, services, graph, health and configuration.

Without ``--start`` nothing of the application runs: modules are registered (importing
the target does that), configuration is collected from the real feeders and the
dependency graph is resolved, exactly as ``init`` would before calling any module.
With ``--start`` the application is started, inspected while running (states,
timings, the health snapshot) and stopped again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pymodular.cli._output import table
from pymodular.errors import ConfigError, PymodularError

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import SectionSpec

__all__ = (
    "CONFIG_COLUMNS",
    "config_problems",
    "config_row",
    "inspect_running",
    "inspect_static",
    "judge_statically",
    "problem_list",
    "render_table",
    "source_cell",
)


def judge_statically(
    app: Application, *, strict: bool | None = None, keep: bool = True
) -> tuple[list[SectionSpec], list[str], list[dict[str, Any]]]:
    """Collect ``app``'s configuration from its feeders and resolve its dependency graph
    the way ``init`` does, running no module: its section specs, its start order and the
    problems found. ``strict`` (default: the application's) refuses unknown keys;
    ``keep`` applies the configuration collected (for ``app.inspect()``)."""
    from pymodular.cli._target import app_specs

    problems: list[dict[str, Any]] = []
    specs = app_specs(app)
    if specs or app.config.feeders:
        try:
            snapshot = app.config.collect(specs, strict=strict)
        except ConfigError as exc:
            problems.extend(config_problems(exc))
        else:
            if keep:
                app.config.apply(snapshot)
    order: list[str] = []
    try:
        order = app.resolve()
    except PymodularError as exc:
        problems.append({"kind": type(exc).__name__, "message": exc.message})
    return specs, order, problems


def inspect_static(app: Application) -> dict[str, Any]:
    """Describe ``app`` without running any module; problems land in ``problems``."""
    _, _, problems = judge_statically(app)
    picture = app.inspect()
    picture["problems"] = problems
    return picture


def problem_list(title: str, problems: list[dict[str, Any]]) -> str:
    """``title`` over one line per problem (and how to accept unknown keys, when any)."""
    lines = [title, *(f"  - {p['message']}" for p in problems)]
    if any(p.get("kind") == "unknown_key" for p in problems):
        lines.append("(--allow-unknown accepts keys no module declares)")
    return "\n".join(lines)


def inspect_running(app: Application) -> dict[str, Any]:
    """Start ``app``, describe it while running (with its health snapshot), stop it."""

    async def main() -> dict[str, Any]:
        await app.start()
        try:
            picture = app.inspect()
        finally:
            await app.stop()
        picture["problems"] = []
        return picture

    return asyncio.run(main())


def config_problems(exc: ConfigError) -> list[dict[str, Any]]:
    """One row per problem ``exc`` reports: its one-line ``message`` and its fields."""
    if not exc.errors:
        return [{"kind": "config", "message": exc.message, "path": exc.field}]
    rows = []
    for error in exc.errors:
        as_dict = getattr(error, "as_dict", None)
        detail = as_dict() if callable(as_dict) else {"reason": str(error)}
        rows.append({"kind": "config", "message": str(error), **detail})
    return rows


_MODULE_COLUMNS = (
    ("name", "name"),
    ("state", "state"),
    ("depends", "depends on"),
    ("requires", "requires"),
    ("provides", "provides"),
    ("capabilities", "capabilities"),
    ("config_section", "config"),
)
_SERVICE_COLUMNS = (
    ("name", "name"),
    ("interfaces", "interfaces"),
    ("scope", "scope"),
    ("priority", "priority"),
    ("provider", "provider"),
    ("ready", "ready"),
)
CONFIG_COLUMNS = (
    ("path", "field"),
    ("value", "value"),
    ("source", "source"),
    ("dynamic", "dynamic"),
)


def render_table(picture: dict[str, Any]) -> str:
    """The picture as a few aligned tables for humans."""
    order = picture.get("order") or []
    parts = [
        f"application {picture.get('name')!r}: {picture.get('state')}"
        + (f", start order {' -> '.join(order)}" if order else "")
    ]
    modules = [
        {
            **m,
            "depends": m.get("depends_on"),
            "requires": [
                r["service"] + (" (optional)" if r.get("optional") else "")
                for r in m.get("requires", [])
            ],
            "provides": [
                p.get("name") or ", ".join(p.get("interfaces", [])) for p in m["provides"]
            ],
        }
        for m in picture.get("modules", [])
    ]
    parts.append(table(modules, _MODULE_COLUMNS, title="\nMODULES"))
    services = [
        {**s, "interfaces": [i.rsplit(".", 1)[-1] for i in s.get("interfaces", [])]}
        for s in picture.get("services", [])
    ]
    parts.append(table(services, _SERVICE_COLUMNS, title="\nSERVICES"))
    edges = picture.get("graph", {}).get("edges", [])
    lines = [
        f"  {e['from']} -> {e['to']}  ({e['kind']}{' ' + e['label'] if e.get('label') else ''})"
        for e in edges
    ]
    parts.append("\nDEPENDENCIES\n" + ("\n".join(lines) if lines else "(none)"))
    health = picture.get("health")
    if isinstance(health, dict):
        parts.append(_health_table(health))
    if "config" in picture:
        rows = [config_row(row) for row in picture["config"]]
        parts.append(table(rows, CONFIG_COLUMNS, title="\nCONFIGURATION"))
    for key, value in picture.items():
        if key not in _RENDERED and value not in (None, [], {}):
            parts.append(_section(key, value))
    problems = picture.get("problems") or []
    if problems:
        parts.append("\nPROBLEMS\n" + "\n".join(f"  - {p['message']}" for p in problems))
    return "\n".join(parts)


_RENDERED = frozenset(
    {"name", "state", "started_at", "order", "modules", "services", "graph", "observers",
     "config", "health", "problems"}
)  # fmt: skip


def _section(key: str, value: Any) -> str:
    """Another inspector's section (reload, tenants, ...): one ``key: value`` line each."""
    import json

    lines = [f"\n{key.upper()}"]
    if isinstance(value, dict):
        for name, item in value.items():
            text = item if isinstance(item, str) else json.dumps(item, default=str)
            lines.append(f"  {name}: {text}")
    else:
        lines.append(f"  {json.dumps(value, default=str)}")
    return "\n".join(lines)


def _health_table(health: dict[str, Any]) -> str:
    title = (
        f"\nHEALTH: {health.get('overall_status')} (readiness: {health.get('readiness_status')})"
    )
    if health.get("readiness_message"):
        title += f" - {health['readiness_message']}"
    columns = (("name", "module"), ("status", "status"), ("optional", "optional"),
               ("message", "message"))  # fmt: skip
    return table(health.get("modules") or [], columns, title=title)


def config_row(row: dict[str, Any]) -> dict[str, Any]:
    """A provenance row as a table shows it; a key no section declares says why, not what."""
    shown = {**row, "source": source_cell(row)}
    if row.get("known") is False:
        shown["value"] = f"(not shown: {row.get('unknown') or 'unknown key'})"
    return shown


def source_cell(row: dict[str, Any]) -> str:
    """A provenance row's source, with the feeder when the location does not name it."""
    source = str(row.get("source") or "")
    feeder = row.get("feeder")
    if feeder and feeder not in source:
        return f"{source} ({feeder})"
    return source
