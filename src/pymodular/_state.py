"""Application and module state machines (FR-035)."""

from __future__ import annotations

import enum

__all__ = ("AppState", "ModuleState")


class ModuleState(enum.StrEnum):
    """registered → initialising → initialised → starting → started → stopping → stopped.

    ``failed`` is entered from any phase that raised. A module is started at most once
    and stopped at most once per application run.
    """

    REGISTERED = "registered"
    INITIALISING = "initialising"
    INITIALISED = "initialised"
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class AppState(enum.StrEnum):
    """created → initialising → initialised → starting → running → draining → stopping → stopped.

    ``draining`` is the first part of a stop: readiness turns unhealthy and drainable
    modules finish their in-flight work; ``stopping`` follows, in which modules stop.
    ``failed`` after an init or start failure (started modules were rolled back).
    """

    CREATED = "created"
    INITIALISING = "initialising"
    INITIALISED = "initialised"
    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
