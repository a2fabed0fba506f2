"""The ``pymodular`` command (also ``python -m pymodular``).

::

    pymodular new module cache            # scaffold a module package
    pymodular config check service.main:app
    pymodular inspect service.main:app --format dot | dot -Tsvg > graph.svg
    pymodular contract diff old.json new.json

:func:`main` runs the command in-process and returns its exit code (see
:class:`ExitCode`), which is also how the test suite drives it. Needs the ``cli``
extra (``pip install "pymodular[cli]"``).
"""

from pymodular.cli._errors import CliError, ExitCode, FileSystemError, TargetError, UsageError
from pymodular.cli._main import main

__all__ = ("CliError", "ExitCode", "FileSystemError", "TargetError", "UsageError", "main")
