"""``app.inspect()``: modules, services, graph and configuration as plain data (FR-037)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymodular.application import Application

__all__ = ("inspect_application",)


def inspect_application(app: Application) -> dict[str, Any]:
    """Return a JSON-serialisable description of ``app``; secrets stay masked."""
    data: dict[str, Any] = {
        "name": app.name,
        "state": app.state.value,
        "started_at": app.started_at,
        "order": app.order,
        "modules": [r.describe() for r in app.records()],
        "services": app.services.describe(),
        "graph": {
            "nodes": [r.name for r in app.records()],
            "edges": [
                {"from": e.source, "to": e.target, "kind": e.kind, "label": e.label}
                for e in app.edges
            ],
        },
        "observers": [s.describe() for s in app.events.subscriptions],
    }
    if app._config is not None:
        data["config"] = app.config.provenance_table()
    for name, describe in app._inspectors.items():
        data[name] = describe()
    return data


def to_dot(picture: dict[str, Any]) -> str:
    """The dependency graph of an ``inspect()`` picture as Graphviz DOT."""
    lines = ["digraph pymodular {", "  rankdir=LR;"]
    lines.extend(f'  "{node}";' for node in picture["graph"]["nodes"])
    for edge in picture["graph"]["edges"]:
        label = f"{edge['kind']} {edge['label']}".strip()
        lines.append(f'  "{edge["from"]}" -> "{edge["to"]}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines)
