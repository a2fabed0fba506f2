"""``pymodular check``: everything that can be judged without starting the application.

Loading the target already checks every module declaration (names, services, extras,
``min_core_version``); then the configuration is collected from the real feeders
(unknown keys count unless allowed) and the dependency graph is resolved the way
``init`` resolves it — modules, required services, ambiguity, cycles. No module's code
runs. ``pymodular config check`` stays the configuration alone, with every value.
"""

from __future__ import annotations

import os
from typing import Any

from pymodular.cli._inspect import config_problems
from pymodular.cli._output import dump

__all__ = ("check_all",)


def check_all(
    target: str,
    fmt: str,
    *,
    app_dir: str | os.PathLike[str] | None = None,
    allow_unknown: bool = False,
) -> tuple[str, bool]:
    """The report on ``target`` and whether it can start."""
    from pymodular.cli._target import app_specs, load_application
    from pymodular.errors import ConfigError, PymodularError

    app = load_application(target, app_dir=app_dir)
    specs = app_specs(app)
    problems: list[dict[str, Any]] = []
    try:
        app.config.collect(specs, strict=not allow_unknown)
    except ConfigError as exc:
        problems.extend(config_problems(exc))
    order: list[str] = []
    try:
        order = app.resolve()
    except PymodularError as exc:
        problems.append({"kind": type(exc).__name__, "message": exc.message})
    report = {
        "ok": not problems,
        "order": order,
        "sections": [s.name for s in specs],
        "problems": problems,
    }

    def render(data: dict[str, Any]) -> str:
        if data["ok"]:
            lines = [f"{target} can start: no problems found"]
            lines.append(f"  start order: {' -> '.join(data['order']) or '(no modules)'}")
            count = len(data["sections"])
            lines.append(f"  configuration: {count} section{'s' * (count != 1)} valid")
            return "\n".join(lines)
        count = len(data["problems"])
        lines = [f"{target} cannot start ({count} problem{'s' * (count != 1)}):"]
        lines += [f"  - {p['message']}" for p in data["problems"]]
        if any(p.get("kind") == "unknown_key" for p in data["problems"]):
            lines.append("(--allow-unknown accepts keys no module declares)")
        return "\n".join(lines)

    return dump(report, fmt, render_table=render), not problems
