"""Errors of dynamic reload, in the core error tree (see :mod:`pymodular.errors`)::

    ConfigError
    └── RestartRequiredError    a non-dynamic field changed; nothing was applied
    LifecycleError
    └── ReloadError             a module failed to reload; everything was rolled back

A candidate configuration that does not validate raises the
:class:`~pymodular.errors.ConfigError` (or ``ValidationError``) of the collect itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymodular.errors import ConfigError, LifecycleError

if TYPE_CHECKING:
    from pymodular.reload._result import ReloadResult

__all__ = ("ReloadError", "RestartRequiredError")


class RestartRequiredError(ConfigError):
    """Fields that are not marked ``dynamic=True`` changed; the reload was rejected.

    ``fields`` lists their paths; the message names each as "restart required".
    """

    def __init__(self, fields: Sequence[str], **context: Any) -> None:
        self.fields: tuple[str, ...] = tuple(fields)
        listed = "; ".join(f"{path}: restart required" for path in self.fields)
        super().__init__(
            f"reload rejected: {len(self.fields)} changed field(s) are not dynamic and need "
            f"a restart ({listed}); nothing was applied",
            phase="reload",
            errors=self.fields,
            **context,
        )


class ReloadError(LifecycleError):
    """A module's ``reload`` failed or timed out; the reload was rolled back.

    ``module`` names the module, ``__cause__`` is its error, and ``result`` is the
    :class:`~pymodular.reload.ReloadResult` (which modules were rolled back, and any
    rollback failures).
    """

    def __init__(self, message: str, *, result: ReloadResult, **context: Any) -> None:
        super().__init__(message, phase="reload", **context)
        self.result = result
