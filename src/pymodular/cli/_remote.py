"""Reading a running process through its admin endpoints (``--url``).

The token comes from an environment variable (``PYMODULAR_ADMIN_TOKEN`` unless
``--token-env`` names another), never from the command line, where ``ps`` would show it.
"""

from __future__ import annotations

import os
from typing import Any

from pymodular.cli._errors import CliError, UsageError
from pymodular.cli._inspect import CONFIG_COLUMNS, config_row
from pymodular.cli._output import dump, table
from pymodular.errors import error_text

__all__ = ("TOKEN_ENV", "remote_config", "remote_inspect")

TOKEN_ENV = "PYMODULAR_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a token


def _fetch(url: str, endpoint: str, token_env: str) -> dict[str, Any]:
    from pymodular._extras import Extra

    Extra("httpclient", "httpx").require("--url")
    import httpx

    token = os.environ.get(token_env)
    if not token:
        raise UsageError(f"--url needs the admin token in the environment variable {token_env}")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url {url!r}: give the admin base URL, http(s)://host:port/_admin")
    target = url.rstrip("/") + endpoint
    try:
        answer = httpx.get(target, headers={"authorization": f"Bearer {token}"}, timeout=10.0)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {target}: {error_text(exc)}") from None
    if answer.status_code == 401:
        raise CliError(f"{target} refused the token in {token_env} (401)")
    if answer.status_code != 200:
        raise CliError(f"{target} answered {answer.status_code}; is the admin module enabled?")
    try:
        data = answer.json()
    except ValueError:
        raise CliError(f"{target} did not answer JSON") from None
    if not isinstance(data, dict):
        raise CliError(f"{target} did not answer a JSON object")
    return data


def remote_inspect(url: str, token_env: str = TOKEN_ENV) -> dict[str, Any]:
    """The ``app.inspect()`` picture of the process behind ``url``."""
    picture = _fetch(url, "/inspect", token_env)
    picture.setdefault("problems", [])
    return picture


def remote_config(url: str, fmt: str, token_env: str = TOKEN_ENV) -> str:
    """The running process's configuration with provenance, rendered as ``fmt``."""
    rows = _fetch(url, "/config", token_env).get("config", [])
    data = {"valid": True, "url": url, "fields": rows}

    def render(report: dict[str, Any]) -> str:
        title = f"configuration of the process at {url} ({len(rows)} fields):"
        return table([config_row(row) for row in report["fields"]], CONFIG_COLUMNS, title=title)

    return dump(data, fmt, render_table=render)
