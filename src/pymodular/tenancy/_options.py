"""``TenancyOptions``: how tenants are found, guarded and drained."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pymodular._seconds import check_seconds

__all__ = ("GuardMode", "GuardModeName", "TenancyOptions")


class GuardMode(enum.StrEnum):
    """What happens when tenant-scoped things are asked for without a tenant context.

    - ``STRICT`` (the default): raise :class:`~pymodular.tenancy.TenantContextError`;
      asking for another tenant's service raises
      :class:`~pymodular.tenancy.TenantIsolationError`.
    - ``PERMISSIVE``: fall back to one shared instance built without a tenant (and the
      base configuration), record the violation and emit a ``tenant.violation`` event.
    - ``DISABLED``: fall back silently; nothing is recorded.
    """

    STRICT = "strict"
    PERMISSIVE = "permissive"
    DISABLED = "disabled"


GuardModeName = Literal["strict", "permissive", "disabled"]


@dataclass(frozen=True)
class TenancyOptions:
    """Options of the tenancy component (``Application(tenancy=TenancyOptions(...))``).

    - ``guard``: the :class:`GuardMode` (``"strict"`` by default).
    - ``tenants``: tenants registered up front, ``{id: {section: {...}}}`` (their data is
      the highest tenant layer).
    - ``directories``: tenant config directories, one ``<id>.yaml|.yml|.json|.toml`` file
      per tenant; later directories override earlier ones for the same tenant
      (``config/base/tenants`` then ``config/environments/prod/tenants``). A directory
      that does not exist is reported (health degraded) unless ``directories_required``
      is false.
    - ``env_prefix``: tenant-affixed environment variables, ``TENANT_ACME_DATABASE__DSN``
      sets ``database.dsn`` for tenant ``acme``; ``None`` turns this off.
      ``discover_env`` lets such variables register tenants that have no file.
    - ``environ``: replaces ``os.environ`` (tests).
    - ``drain_timeout``: seconds ``remove`` and app stop wait for in-flight tenant
      contexts before closing a tenant's services anyway.
    - ``notify_timeout``: seconds each ``TenantAware.on_tenant`` call may take.
    - ``max_tenants``, ``max_file_bytes``: refuse more tenants / larger files than this.
    - ``violation_capacity``: how many recent guard violations are kept.
    """

    guard: GuardMode | GuardModeName = GuardMode.STRICT
    tenants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    directories: Sequence[str | os.PathLike[str]] = ()
    directories_required: bool = True
    env_prefix: str | None = "TENANT_"
    discover_env: bool = True
    environ: Mapping[str, str] | None = None
    drain_timeout: float = 10.0
    notify_timeout: float = 30.0
    max_tenants: int = 10_000
    max_file_bytes: int = 1024 * 1024
    violation_capacity: int = 1000

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "guard", GuardMode(self.guard))
        except ValueError:
            allowed = ", ".join(m.value for m in GuardMode)
            raise ValueError(f"tenant guard {self.guard!r} is not one of {allowed}") from None
        if isinstance(self.directories, str | os.PathLike):
            object.__setattr__(self, "directories", (self.directories,))
        for name in ("drain_timeout", "notify_timeout"):
            check_seconds("TenancyOptions", name, getattr(self, name), positive=True)
        if self.max_tenants < 1 or self.max_file_bytes < 1 or self.violation_capacity < 1:
            raise ValueError("max_tenants, max_file_bytes and violation_capacity must be >= 1")
        if self.env_prefix is not None and not self.env_prefix:
            raise ValueError("env_prefix must be a non-empty string or None")

    @property
    def mode(self) -> GuardMode:
        """The guard mode as an enum member."""
        return GuardMode(self.guard)
