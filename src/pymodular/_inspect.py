"""``app.inspect()``: modules, services, graph and configuration as plain data (FR-037)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymodular._state import ModuleState
from pymodular.errors import error_text
from pymodular.module import Describable
from pymodular.secrets import json_safe

if TYPE_CHECKING:
    from pymodular._kernel import Kernel

__all__ = ("inspect_application", "to_dot")


def inspect_application(kernel: Kernel) -> dict[str, Any]:
    """Return a JSON-serialisable description of the application; secrets stay masked.

    Besides modules, services, graph, observers and configuration, every module and
    every attached component with a ``describe()`` gets a section under its name, and
    so does every inspector added with ``app.add_inspector``.
    """
    records = kernel.records()
    data: dict[str, Any] = {
        "name": kernel.name,
        "state": kernel.state.value,
        "started_at": kernel.started_at,
        "order": list(kernel.order),
        "modules": [r.describe() for r in records],
        "services": kernel.services.describe(),
        "graph": {
            "nodes": [r.name for r in records],
            "edges": [
                {"from": e.source, "to": e.target, "kind": e.kind, "label": e.label}
                for e in kernel.edges
            ],
        },
        "observers": [s.describe() for s in kernel.events.subscriptions],
    }
    if kernel.config_loaded:
        data["config"] = kernel.config.provenance_table()
    for component in kernel.components():
        if isinstance(component, Describable):
            data[component.name] = _describe(component)
    for name, describe in kernel.inspectors.items():
        data[name] = describe()
    for record in records:
        if record.describable and record.state in _DESCRIBED:
            data[record.name] = _describe(record.module)
    return data


_DESCRIBED = frozenset(
    {
        ModuleState.INITIALISED,
        ModuleState.STARTING,
        ModuleState.STARTED,
        ModuleState.STOPPING,
        ModuleState.STOPPED,
    }
)


def _describe(part: Any) -> Any:
    """A module's or component's own ``describe()``; its failure is shown, never raised."""
    try:
        return json_safe(part.describe())
    except Exception as exc:  # noqa: BLE001 - inspection must not fail on one module
        return {"error": f"describe() failed: {error_text(exc)}"}


_STATE_COLOURS = {
    "started": "palegreen",
    "failed": "lightcoral",
    "stopped": "lightgrey",
    "initialised": "lightyellow",
}


def _quote(text: str) -> str:
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(picture: dict[str, Any]) -> str:
    """The dependency graph as Graphviz DOT: an edge points from a module to what it needs.

    Module dependencies are solid, service dependencies dashed and labelled with the
    service; nodes are coloured by state.
    """
    name = picture.get("name") or "pymodular"
    lines = [f"digraph {_quote(name)} {{", "  rankdir=LR;", "  node [shape=box, style=filled];"]
    states = {m["name"]: m.get("state", "") for m in picture.get("modules", [])}
    for node in picture.get("graph", {}).get("nodes", []):
        state = states.get(node, "")
        colour = _STATE_COLOURS.get(state, "white")
        label = f"{node}\n{state}" if state else node
        lines.append(f'  {_quote(node)} [label={_quote(label)}, fillcolor="{colour}"];')
    for edge in picture.get("graph", {}).get("edges", []):
        attrs = []
        if edge.get("kind") != "module":
            attrs.append("style=dashed")
        if edge.get("label"):
            attrs.append(f"label={_quote(edge['label'])}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(edge['from'])} -> {_quote(edge['to'])}{suffix};")
    lines.append("}")
    return "\n".join(lines)
