"""Dynamic reload of configuration fields marked ``dynamic=True`` (FR-045).

``Application(dynamic_reload=True)`` (or ``ReloadOptions(...)``) enables
``await app.reload()``, SIGHUP under ``app.run()`` and, with ``watch=True``, reloading
when a configuration file changes. Modules that can apply changes implement
:class:`~pymodular.Reloadable`::

    from pymodular.reload import ConfigDiff

    class Cache(Module[CacheConfig]):
        async def reload(self, diff: ConfigDiff) -> None:
            if diff.has("ttl"):
                self.store.ttl = diff.new("ttl", float)

A change to a field that is not dynamic rejects the whole reload
(:class:`RestartRequiredError`); a module that fails makes the reload roll back
(:class:`ReloadError`).
"""

from pymodular.config import ConfigDiff, FieldChange
from pymodular.reload._breaker import ReloadBreaker
from pymodular.reload._options import ReloadOptions
from pymodular.reload._plan import ReloadPlan, ReloadStep, invert, plan_reload
from pymodular.reload._reloader import Reloader
from pymodular.reload._result import ReloadEventType, ReloadResult, ReloadTrigger
from pymodular.reload._watch import ConfigWatcher, WatchTarget, watch_targets
from pymodular.reload.errors import ReloadError, RestartRequiredError

__all__ = (
    "ConfigDiff",
    "ConfigWatcher",
    "FieldChange",
    "ReloadBreaker",
    "ReloadError",
    "ReloadEventType",
    "ReloadOptions",
    "ReloadPlan",
    "ReloadResult",
    "ReloadStep",
    "ReloadTrigger",
    "Reloader",
    "RestartRequiredError",
    "WatchTarget",
    "invert",
    "plan_reload",
    "watch_targets",
)
