"""The order in which an application stops, owned by one function (:func:`stop_sequence`).

Stopping is a fixed sequence of stages. Components attach hooks to a stage with
``app.on_stopping(hook, stage=...)``; the application runs the stages in the order
:func:`stop_sequence` returns and, within a stage, hooks in the order they were added.
Nothing depends on the order in which components were constructed.

1. ``READINESS`` — readiness turns unhealthy so load balancers stop sending traffic
   (the health aggregator; its ``drain_delay`` waits here).
2. ``WATCHERS`` — background work that could change the app stops: file watchers,
   automatic reloads (a reload in progress finishes).
3. ``DRAIN`` — every started :class:`~pymodular.module.Drainable` module finishes its
   in-flight work, in reverse start order, under the application's ``drain_timeout``
   (servers stop accepting, consumers stop fetching). Hooks of this stage run before
   the modules drain.
4. ``SCOPES`` — tenant- and instance-scoped objects close, while the modules whose
   resources they use still run.
5. ``MODULES`` — started modules stop in exact reverse start order (no hooks).

The application is ``draining`` during the first three stages and ``stopping`` during
the last two.
"""

from __future__ import annotations

import enum

__all__ = ("StopStage", "stop_sequence")


class StopStage(enum.IntEnum):
    """A stage of stopping; see :func:`stop_sequence` for their order."""

    READINESS = 10
    WATCHERS = 20
    DRAIN = 30
    SCOPES = 40
    MODULES = 50

    @property
    def draining(self) -> bool:
        """Whether the application is ``draining`` (not yet ``stopping``) in this stage."""
        return self <= StopStage.DRAIN


def stop_sequence() -> tuple[StopStage, ...]:
    """The stages of stopping, first to last."""
    return tuple(sorted(StopStage))
