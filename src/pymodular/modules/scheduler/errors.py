"""Errors of the scheduler module, in the pymodular error tree::

PymodularError
├── ConfigError
│   └── ValidationError (+ValueError)
│       └── ScheduleError              a cron expression, interval, time or time zone is invalid
├── DependencyError
│   └── UnknownJobError (+LookupError) no job has that id
├── LifecycleError
│   └── SchedulerStoppedError         the scheduler does not take new work (stopped or draining)
└── JobStoreError (+ConnectionError)  the job store could not be reached or answered badly
"""

from __future__ import annotations

from pymodular.errors import DependencyError, LifecycleError, PymodularError, ValidationError

__all__ = (
    "DuplicateJobError",
    "JobStoreError",
    "ScheduleError",
    "SchedulerStoppedError",
    "UnknownJobError",
)


class ScheduleError(ValidationError):
    """A schedule cannot be used: a bad cron expression, interval, time or time zone."""


class UnknownJobError(DependencyError, LookupError):
    """No job is registered under the requested id (``job`` names it)."""


class DuplicateJobError(ValidationError):
    """A job id is taken already (``job`` names it); pass ``replace=True`` to replace it."""


class SchedulerStoppedError(LifecycleError):
    """The scheduler is draining or stopped and starts no new runs."""


class JobStoreError(PymodularError, ConnectionError):
    """The job store could not be reached, or refused an operation (``store`` names it)."""

    category = "scheduler"
