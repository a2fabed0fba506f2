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

from pymodular.cli._inspect import judge_statically, problem_list
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
    from pymodular.cli._target import load_application

    app = load_application(target, app_dir=app_dir)
    specs, order, problems = judge_statically(app, strict=not allow_unknown, keep=False)
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
        title = f"{target} cannot start ({count} problem{'s' * (count != 1)}):"
        return problem_list(title, data["problems"])

    return dump(report, fmt, render_table=render), not problems
