"""Exit codes and the errors the command line turns into one-line messages.

::

    PymodularError
    └── CliError                    carries the process exit code
        ├── UsageError              bad arguments, invalid names, malformed input files (2)
        ├── TargetError             TARGET cannot be imported or is not what was expected (3)
        └── FileSystemError         a path exists, cannot be written or cannot be read (4)

A check that *finds* problems (invalid configuration, breaking API changes) is not an
error of the command: it prints its findings and exits with :attr:`ExitCode.FAILED`.
"""

from __future__ import annotations

import enum
from typing import Any

from pymodular.errors import PymodularError

__all__ = ("CliError", "ExitCode", "FileSystemError", "TargetError", "UsageError")


class ExitCode(enum.IntEnum):
    """Process exit codes of the ``pymodular`` command."""

    OK = 0
    """The command did what was asked (a check found nothing wrong)."""
    FAILED = 1
    """A check found problems, or the application failed to start or stop."""
    USAGE = 2
    """Bad options or arguments, an invalid name, a malformed input file."""
    TARGET = 3
    """The TARGET or PACKAGE could not be imported, or is not an application/module."""
    FILESYSTEM = 4
    """A path already exists (without ``--force``), cannot be written or read."""
    PENDING = 5
    """``db current``: the database is behind its migration scripts (an upgrade is due)."""
    INTERNAL = 70
    """An unexpected error inside pymodular itself (``--debug`` shows the traceback)."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C)."""


class CliError(PymodularError):
    """An error the command reports as one line and turns into an exit code."""

    category = "cli"
    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, exit_code: ExitCode | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CliError):
    """Bad arguments: an invalid scaffold name, an unknown format, a malformed input file."""

    exit_code = ExitCode.USAGE


class TargetError(CliError):
    """``TARGET`` could not be imported, has no such attribute, or is of the wrong kind."""

    exit_code = ExitCode.TARGET


class FileSystemError(CliError):
    """A path exists already, or cannot be written or read."""

    exit_code = ExitCode.FILESYSTEM
