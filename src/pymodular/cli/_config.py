"""``pymodular config sample|describe|check``: configuration from the declared metadata.

All three read the same section specs the application builds at init (module name,
config model, section, instance awareness, environment prefix), so what they print is
what the validator enforces.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, cast

from pymodular.cli._errors import UsageError
from pymodular.cli._inspect import CONFIG_COLUMNS, config_problems, config_row, problem_list
from pymodular.cli._output import dump, table

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.config import SectionSpec

__all__ = ("check", "describe", "sample")

AppDir = str | os.PathLike[str] | None


def _env_prefix(app: Application | None) -> str:
    for feeder in app.config.feeders if app is not None else ():
        prefix = getattr(feeder, "env_prefix", None)
        if isinstance(prefix, str):
            return prefix
    return ""


def _sources(targets: list[str], app_dir: AppDir) -> tuple[list[SectionSpec], str]:
    """Section specs of ``targets`` and the env prefix of the first application among them."""
    from pymodular.cli._target import section_specs

    specs, apps = section_specs(targets, app_dir=app_dir)
    if not specs:
        raise UsageError(
            f"{', '.join(targets)} declares no configuration sections "
            "(no module has a config model)"
        )
    return specs, _env_prefix(apps[0] if apps else None)


def sample(targets: list[str], fmt: str, *, app_dir: AppDir = None) -> str:
    """A sample configuration file for ``targets`` in ``fmt`` (yaml, toml, json)."""
    from pymodular.config import generate_sample

    if fmt not in ("yaml", "toml", "json"):
        raise UsageError(f"unknown sample format {fmt!r}; expected yaml, toml or json")
    specs, prefix = _sources(targets, app_dir)
    return generate_sample(specs, cast('Literal["yaml", "toml", "json"]', fmt), env_prefix=prefix)


_FIELD_COLUMNS = (
    ("path", "field"),
    ("type", "type"),
    ("default", "default"),
    ("flags", "flags"),
    ("env", "environment"),
    ("description", "description"),
)


def describe(targets: list[str], fmt: str, *, env_prefix: str = "", app_dir: AppDir = None) -> str:
    """Every field of ``targets``: type, default, flags, environment names, description."""
    from pymodular.config import describe_fields

    specs, prefix = _sources(targets, app_dir)
    fields = [f.as_dict() for f in describe_fields(specs, env_prefix=env_prefix or prefix)]

    def render(rows: list[dict[str, Any]]) -> str:
        shown = [
            {
                **row,
                "default": "(required)" if row["required"] else row["default"],
                "flags": [flag for flag in ("required", "dynamic", "secret") if row[flag]],
                "env": row["env"][:1],
            }
            for row in rows
        ]
        return table(shown, _FIELD_COLUMNS)

    return dump(fields, fmt, render_table=render)


def check(
    target: str,
    fmt: str,
    *,
    app_dir: AppDir = None,
    allow_unknown: bool = False,
    changed: bool = False,
) -> tuple[str, bool]:
    """Collect ``target``'s configuration from its feeders without starting any module.

    Unknown keys fail the check unless ``allow_unknown``; ``changed`` leaves out the
    fields still on their defaults. Returns the report and whether the configuration is
    valid.
    """
    from pymodular.cli._target import app_specs, load_application
    from pymodular.errors import ConfigError

    app = load_application(target, app_dir=app_dir)
    specs = app_specs(app)
    try:
        snapshot = app.config.collect(specs, strict=not allow_unknown)
    except ConfigError as exc:
        data: dict[str, Any] = {"valid": False, "errors": config_problems(exc)}

        def render_errors(report: dict[str, Any]) -> str:
            count = len(report["errors"])
            title = f"configuration of {target} is invalid ({count} problem{'s' * (count != 1)}):"
            return problem_list(title, report["errors"])

        return dump(data, fmt, render_table=render_errors), False
    rows = snapshot.provenance_table()
    if changed:
        rows = [row for row in rows if row["feeder"] != "default"]
    skipped = [{"feeder": name, "reason": reason} for name, reason in snapshot.skipped]
    data = {"valid": True, "sections": [s.name for s in specs], "fields": rows, "skipped": skipped}

    def render_fields(report: dict[str, Any]) -> str:
        count = len(report["sections"])
        text = table(
            [config_row(row) for row in report["fields"]],
            CONFIG_COLUMNS,
            title=f"configuration of {target} is valid ({count} section{'s' * (count != 1)}):",
        )
        notes = [f"feeder {s['feeder']} skipped: {s['reason']}" for s in report["skipped"]]
        return "\n".join([text, *notes])

    return dump(data, fmt, render_table=render_fields), True
