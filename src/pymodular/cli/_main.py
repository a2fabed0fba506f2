"""The entry point: run a command, turn every failure into one line and an exit code."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymodular.cli._errors import CliError, ExitCode
from pymodular.errors import MissingExtraError
from pymodular.module import Extra

__all__ = ("State", "main")

_EXTRA = Extra("cli", "click")

PROG = "pymodular"


@dataclass
class State:
    """Options of the top-level command that every subcommand may read."""

    debug: bool = False


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pymodular`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code.

    Errors are reported as ``pymodular: error: ...`` on stderr, one line each, with the
    exit codes of :class:`~pymodular.cli.ExitCode`; ``--debug`` (or ``PYMODULAR_DEBUG=1``)
    adds the traceback.
    """
    try:
        _EXTRA.require("the command line")
    except MissingExtraError as exc:
        _error(exc.message)
        return ExitCode.USAGE
    import click

    from pymodular.cli._app import cli

    state = State(debug=os.environ.get("PYMODULAR_DEBUG", "") not in ("", "0"))
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name=PROG, standalone_mode=False, obj=state)
    except click.exceptions.Abort:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except click.UsageError as exc:
        if _no_command(click, exc):
            # ``pymodular`` or ``pymodular new`` alone: the help is the answer, not an error.
            sys.stderr.write(exc.ctx.get_help() + "\n")  # type: ignore[union-attr]
            return exc.exit_code
        command = exc.ctx.command_path if exc.ctx is not None else PROG
        _error(f"{exc.format_message()} (see '{command} --help')")
        return exc.exit_code
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except CliError as exc:
        return _report(state, exc, exc.message, exc.exit_code)
    except BrokenPipeError:
        # The reader went away (``pymodular inspect | head``): nothing left to say.
        sys.stderr.close()
        return ExitCode.FAILED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, a code
        return _unexpected(state, exc)
    if isinstance(result, int):
        return result
    return ExitCode.OK


def _no_command(click: Any, exc: Exception) -> bool:
    """Whether ``exc`` says a command group was called without a subcommand (click >= 8.2)."""
    no_args = getattr(click.exceptions, "NoArgsIsHelpError", None)
    return no_args is not None and isinstance(exc, no_args) and exc.ctx is not None


def _report(state: State, exc: BaseException, message: str, code: int) -> int:
    if state.debug:
        traceback.print_exception(exc)
    lines = message.splitlines() or [type(exc).__name__]
    _error(lines[0])
    for line in lines[1:]:
        sys.stderr.write(f"  {line.strip()}\n")
    return code


def _unexpected(state: State, exc: Exception) -> int:
    from pymodular.errors import PymodularError, error_text
    from pymodular.secrets import redact

    if isinstance(exc, PymodularError):
        return _report(state, exc, exc.message, ExitCode.FAILED)
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror or exc}: {exc.filename!r}"
        return _report(state, exc, redact(text), ExitCode.FILESYSTEM)
    detail = error_text(exc).splitlines()[0]
    hint = "" if state.debug else " (run with --debug for the traceback)"
    return _report(state, exc, f"internal error: {detail}{hint}", ExitCode.INTERNAL)
