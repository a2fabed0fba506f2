"""``pymodular check``: everything that can be judged without starting the application.

Loading the target already checks every module declaration (names, services, extras,
``min_core_version``); a declaration the application refuses is a listed problem (exit
1) like the others, not a target that failed to load. Then the configuration is
collected from the real feeders (unknown keys count unless allowed) and the dependency
graph is resolved the way ``init`` resolves it — modules, required services, ambiguity,
cycles. No module's code runs. ``pymodular config check`` stays the configuration
alone, with every value.
"""

from __future__ import annotations

import os
from typing import Any

from pymodular.cli._errors import TargetError
from pymodular.cli._inspect import judge_statically, problem_list
from pymodular.cli._output import dump
from pymodular.errors import RegistrationError

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

    try:
        app = load_application(target, app_dir=app_dir)
    except TargetError as exc:
        refused = exc.__cause__
        if not isinstance(refused, RegistrationError):
            raise
        # The application was never built: what needs it (configuration, graph) waits.
        sections: list[str] = []
        order: list[str] = []
        problems: list[dict[str, Any]] = [{"kind": "RegistrationError", "message": refused.message}]
        unjudged = True
    else:
        specs, order, problems = judge_statically(app, strict=not allow_unknown, keep=False)
        sections = [s.name for s in specs]
        unjudged = False
    report = {"ok": not problems, "order": order, "sections": sections, "problems": problems}

    def render(data: dict[str, Any]) -> str:
        if data["ok"]:
            lines = [f"{target} can start: no problems found"]
            lines.append(f"  start order: {' -> '.join(data['order']) or '(no modules)'}")
            count = len(data["sections"])
            lines.append(f"  configuration: {count} section{'s' * (count != 1)} valid")
            return "\n".join(lines)
        count = len(data["problems"])
        title = f"{target} cannot start ({count} problem{'s' * (count != 1)}):"
        text = problem_list(title, data["problems"])
        if unjudged:
            text += "\n(configuration and dependencies are checked once every module registers)"
        return text

    return dump(report, fmt, render_table=render), not problems
