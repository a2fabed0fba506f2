"""``TenantRegistry`` (``app.tenants``): tenants, their contexts, configuration and life cycle.

Tenants come from code (``TenancyOptions(tenants=...)``, :meth:`TenantRegistry.add`),
from tenant directories and from tenant-affixed environment variables. They load when
the application has started (or on ``await app.tenants.load()``), and can be added,
updated and removed while it runs. Each change makes a new :class:`Generation`:
in-flight contexts keep the one they entered with, later ones see the new one, and a
replaced generation's services are closed once its last context exits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pymodular._context import current_tenant
from pymodular._state import AppState
from pymodular.errors import PymodularError, RegistrationError, StateError, error_text
from pymodular.services import Availability, InstanceScopes, Service, ServiceScope, close_instances
from pymodular.tenancy._config import Base, build_snapshot, capture_base, tenant_layers
from pymodular.tenancy._context import TenantScope, current_tenant_id
from pymodular.tenancy._drain import Drainer
from pymodular.tenancy._generation import Generation, TenantKey
from pymodular.tenancy._guard import TenantGuard
from pymodular.tenancy._notify import Notifier, failure_text
from pymodular.tenancy._options import GuardMode, TenancyOptions
from pymodular.tenancy._report import describe, health_result
from pymodular.tenancy._scopes import TenantScopes
from pymodular.tenancy._sources import (
    Found,
    check_tenant_id,
    colliding,
    collision_text,
    discover,
    env_token,
    sources_of,
)
from pymodular.tenancy._tenant import Record, Tenant, TenantEvent, TenantStatus
from pymodular.tenancy.errors import TenantConfigError, TenantExistsError, TenantNotFoundError

if TYPE_CHECKING:
    from pymodular.config import ConfigSnapshot, FieldProvenance
    from pymodular.health import HealthResult
    from pymodular.host import Host

__all__ = ("TenantRegistry",)

logger = logging.getLogger("pymodular.tenancy")

_UNSET: Any = object()


class TenantRegistry:
    """Every tenant of one application (``app.tenants``).

    ::

        with app.tenants.use("acme"):              # or `async with`, or @use("acme")
            store = app.services.get(TenantStore)  # acme's instance, built on first use
            dsn = app.tenants.section("database").dsn

        await app.tenants.add("globex", {"database": {"dsn": "..."}})
        await app.tenants.update("globex", {"database": {"dsn": "..."}})
        await app.tenants.remove("globex")         # closes globex's services
    """

    name = "tenants"
    """Its section in ``app.inspect()`` and its health entry."""

    def __init__(self, options: TenancyOptions) -> None:
        self.options = options
        self.guard = TenantGuard(
            options.mode, emit=self._emit_raw, capacity=options.violation_capacity
        )
        """The guard applied to every tenant-scoped lookup (mode, recent violations)."""
        self._host: Host | None = None
        self._active: dict[str, Generation] = {}
        self._records: dict[str, Record] = {}
        self._problems: list[str] = []
        self._drainer = Drainer(options.drain_timeout)
        self._locks: dict[str, asyncio.Lock] = {}
        self._load_lock = asyncio.Lock()
        self._base: Base | None = None
        self._loaded = False
        self._closed = False
        for tenant, data in options.tenants.items():
            check_tenant_id(tenant)
            self._check_collision(tenant)
            self._records[tenant] = Record(tenant, data=_sections(tenant, data), programmatic=True)

    def attach(self, host: Host) -> None:
        """Wrap the host's scope resolver, load tenants once started, stop with the scopes.

        The registry closes through the service registry's scope resolver, in the
        ``SCOPES`` stage of stopping (see :meth:`aclose`).
        """
        self._host = host
        inner = host.services.scope_resolver
        if not isinstance(inner, InstanceScopes):
            raise TypeError(f"tenancy wraps the instance resolver, found {inner!r}")
        self.scopes = TenantScopes(inner, self)
        self._notifier = Notifier(host, self.options.notify_timeout)
        host.services.set_scope_resolver(self.scopes)
        host.on_started(self._on_started)

    @property
    def _attached(self) -> Host:
        host = self._host
        if host is None:
            raise StateError("the tenant registry is not attached to an application")
        return host

    # -- context -------------------------------------------------------------------------

    def use(self, tenant: str) -> TenantScope:
        """A context (``with``/``async with``/decorator) in which ``tenant`` is current."""
        return TenantScope(self, tenant)

    @staticmethod
    def current() -> str | None:
        """The current tenant id, or ``None`` outside any tenant context."""
        return current_tenant_id()

    @property
    def mode(self) -> GuardMode:
        """The guard mode (``strict``, ``permissive`` or ``disabled``)."""
        return self.guard.mode

    @property
    def loaded(self) -> bool:
        """Whether the tenants have been loaded (the application has started)."""
        return self._loaded

    # -- queries -------------------------------------------------------------------------

    def __contains__(self, tenant: object) -> bool:
        return tenant in self._active

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._active))

    def __len__(self) -> int:
        return len(self._active)

    def ids(self, status: TenantStatus | str | None = None) -> list[str]:
        """Ids of every known tenant, or of those with ``status``, in registration order."""
        wanted = None if status is None else TenantStatus(status)
        return [t for t, r in self._records.items() if wanted is None or r.status is wanted]

    def get(self, tenant: str) -> Tenant:
        """The :class:`Tenant` view of ``tenant``; raises :class:`TenantNotFoundError`."""
        record = self._records.get(tenant)
        if record is None:
            raise self._not_found(tenant)
        gen = self._active.get(tenant)
        return Tenant(
            id=record.id,
            status=record.status,
            generation=gen.number if gen is not None else 0,
            sources=record.sources,
            error=record.error,
            added_at=record.added_at,
            updated_at=record.updated_at,
            snapshot=gen.snapshot if gen is not None else None,
            admit=self._admit_config,
        )

    def _admit_config(self, tenant: str) -> bool:
        """Whether code running now may read ``tenant``'s configuration (the guard decides)."""
        current = current_tenant.get()
        if current is None:
            return True  # administration outside any tenant context
        return self.guard.admit("tenant configuration", str(current), tenant) is not None

    def all(self) -> list[Tenant]:
        """Every known tenant, in registration order."""
        return [self.get(t) for t in list(self._records)]

    def config(self, tenant: str | None = None) -> ConfigSnapshot:
        """The configuration snapshot of ``tenant`` (default: the current tenant).

        Outside a tenant context the guard decides: ``strict`` raises
        :class:`~pymodular.tenancy.TenantContextError`; otherwise the application's base
        configuration is returned. Asking for another tenant than the current one is a
        cross-tenant violation (strict raises; permissive returns the base).
        """
        gen = self._generation_for(tenant, "tenant configuration")
        if gen is None or gen.snapshot is None:
            return self._attached.config.snapshot
        return gen.snapshot

    def section(self, name: str, tenant: str | None = None) -> Any:
        """Section ``name`` of the current tenant's (or ``tenant``'s) configuration."""
        gen = self._generation_for(tenant, f"configuration section {name!r}")
        snapshot = self._attached.config.snapshot if gen is None else gen.snapshot
        assert snapshot is not None
        return snapshot.section(name)

    def provenance(self, path: str, tenant: str | None = None) -> FieldProvenance:
        """Where ``path`` (``"database.dsn"``) of the tenant's configuration came from."""
        return self.config(tenant).provenance(path)

    def _generation_for(self, tenant: str | None, what: str) -> Generation | None:
        key = current_tenant.get()
        current = None if key is None else str(key)
        admitted = self.guard.admit(what, current, tenant if tenant is not None else current)
        return None if admitted is None else self._generation_of(key, admitted)

    def _generation_of(self, key: object, tenant: str) -> Generation:
        """The generation the context ``key`` pins for ``tenant``, else its current one.

        Raises (see :meth:`_unavailable`) when ``tenant`` is not active.
        """
        if type(key) is TenantKey and key == tenant:
            gen = key.generation
            if gen is not None:  # None once the generation closed
                return gen
        gen = self._active.get(tenant)
        if gen is None:
            raise self._unavailable(tenant)
        return gen

    # -- loading -------------------------------------------------------------------------

    async def load(self) -> None:
        """Load every tenant now (once; the application calls this when it has started).

        Call it earlier, from a module's ``start``, to use tenants there. The
        application's configuration must have been loaded (``init`` has run). A tenant
        whose configuration fails is marked failed; the others load.
        """
        async with self._load_lock:
            if self._loaded:
                return
            self._check_open()
            if self._attached.state is AppState.CREATED:
                raise StateError(
                    "tenants load on the application's configuration: init the application "
                    "first (they load by themselves once it has started)",
                    phase="tenancy",
                )
            self._drainer.loop = asyncio.get_running_loop()
            await self._sync()
            self._loaded = True

    async def reload(self) -> dict[str, list[str]]:
        """Re-read the base configuration and every tenant source; apply what changed.

        New tenant files or variables add tenants, vanished ones remove them (tenants
        added in code stay), changed ones update them. A tenant whose new configuration
        is invalid keeps serving its previous one (health reports degraded). Returns
        the ids per outcome: ``added``, ``updated``, ``removed``, ``failed``.
        """
        if not self._loaded:
            await self.load()
            return {
                "added": self.ids(TenantStatus.ACTIVE),
                "updated": [],
                "removed": [],
                "failed": self.ids(TenantStatus.FAILED),
            }
        async with self._load_lock:
            self._check_open()
            return await self._sync()

    async def _sync(self) -> dict[str, list[str]]:
        outcome: dict[str, list[str]] = {"added": [], "updated": [], "removed": [], "failed": []}
        base = self._base = capture_base(self._attached.config)
        found, self._problems = discover(
            self.options, self._records, base.section_tokens, self._environ()
        )
        for problem in self._problems:
            logger.warning("tenant sources: %s", problem)
        for tenant, record in list(self._records.items()):
            if tenant not in found and record.discovered and not record.programmatic:
                async with self._lock_for(tenant):
                    await self._remove(tenant)
                self._locks.pop(tenant, None)
                outcome["removed"].append(tenant)
        for tenant in found:
            if tenant not in self._records:
                if len(self._records) >= self.options.max_tenants:
                    self._problems.append(
                        f"tenant {tenant!r} ignored: already {self.options.max_tenants} "
                        "tenants (TenancyOptions.max_tenants)"
                    )
                    continue
                self._records[tenant] = Record(tenant)
        for tenant in list(self._records):
            async with self._lock_for(tenant):
                entry = self._records.get(tenant)
                if entry is None:
                    continue
                entry.set_sources(found.get(tenant, Found()))
                before = entry.status
                changed = await self._activate(entry, base)
            if entry.status is TenantStatus.FAILED or (changed is None and entry.error):
                outcome["failed"].append(tenant)
            elif before is not TenantStatus.ACTIVE and entry.status is TenantStatus.ACTIVE:
                outcome["added"].append(tenant)
            elif changed:
                outcome["updated"].append(tenant)
            await asyncio.sleep(0)  # let requests run between tenants
        return outcome

    def _environ(self) -> Mapping[str, str]:
        return os.environ if self.options.environ is None else self.options.environ

    # -- changes -------------------------------------------------------------------------

    async def add(self, tenant: str, data: Mapping[str, Any] | None = None) -> Tenant:
        """Register ``tenant`` with optional configuration ``data`` (``{section: {...}}``).

        Before the tenants load it is only recorded; afterwards its configuration is
        built and every ``TenantAware`` module is told (``"added"``). Raises
        :class:`~pymodular.tenancy.TenantExistsError` when the id is taken,
        :class:`~pymodular.tenancy.InvalidTenantIdError` for a malformed id and
        :class:`~pymodular.tenancy.TenantConfigError` when its configuration is invalid
        (the tenant is then registered as failed; fix it with :meth:`update`).
        """
        check_tenant_id(tenant)
        sections = _sections(tenant, data)
        self._check_open()
        async with self._lock_for(tenant):
            if tenant in self._records:
                raise TenantExistsError(
                    f"tenant {tenant!r} is already registered "
                    f"({self._records[tenant].status.value}); use update() to change it",
                    tenant=tenant,
                )
            self._check_collision(tenant)
            if len(self._records) >= self.options.max_tenants:
                raise RegistrationError(
                    f"cannot add tenant {tenant!r}: the limit of {self.options.max_tenants} "
                    "tenants is reached (TenancyOptions.max_tenants)",
                    tenant=tenant,
                )
            record = self._records[tenant] = Record(tenant, data=sections, programmatic=True)
            if self._loaded:
                await self._rebuild(record)
        return self.get(tenant)

    async def update(self, tenant: str, data: Mapping[str, Any] | None = _UNSET) -> Tenant:
        """Rebuild ``tenant``'s configuration, replacing its programmatic data if given.

        Files and variables are re-read. Contexts already entered keep the previous
        configuration and service instances; contexts entered afterwards see the new
        ones; the previous instances are closed when the last old context exits.
        ``TenantAware`` modules are told (``"updated"``). When the new configuration is
        invalid, :class:`~pymodular.tenancy.TenantConfigError` is raised and the
        previous configuration keeps serving. A failed tenant is retried.
        """
        self._check_open()
        async with self._lock_for(tenant):
            record = self._records.get(tenant)
            if record is None:
                raise self._not_found(tenant)
            if data is not _UNSET:
                record.data = _sections(tenant, data)
                record.programmatic = record.programmatic or data is not None
            if self._loaded:
                await self._rebuild(record)
        return self.get(tenant)

    async def remove(self, tenant: str) -> None:
        """Remove ``tenant``.

        New contexts for it are refused at once; ``TenantAware`` modules are told
        (``"removed"``, in reverse start order); its tenant-scoped services are closed,
        newest first, once contexts already entered have exited (waiting at most
        ``drain_timeout`` seconds). Raises :class:`TenantNotFoundError` if unknown.
        """
        async with self._lock_for(tenant):
            if tenant not in self._records:
                raise self._not_found(tenant)
            await self._remove(tenant)
        self._locks.pop(tenant, None)

    def provide(self, tenant: str, *services: Service[Any]) -> None:
        """Register ready objects that exist for ``tenant`` only.

        Each service must be declared ``scope="tenant", tenant=tenant``. Inside that
        tenant's context they are found by name or interface ahead of factories; other
        tenants never see them. They are closed when the tenant is removed or the app
        stops.
        """
        if tenant not in self._active:
            raise self._unavailable(tenant)
        for service in services:
            if service.scope is not ServiceScope.TENANT or service.tenant != tenant:
                raise RegistrationError(
                    f"tenant {tenant!r} can only be given services declared "
                    f"scope='tenant', tenant={tenant!r} (got scope={service.scope!r}, "
                    f"tenant={service.tenant!r})",
                    tenant=tenant,
                    service=service.name,
                )
        provider = f"tenant:{tenant}"
        entries = self._attached.services.register(provider, services, pending=True)
        self._attached.services.mark_ready(provider, Availability.INIT)
        self._records[tenant].provided.extend(entries)

    # -- the work behind the changes -----------------------------------------------------

    async def _rebuild(self, record: Record) -> None:
        base = self._base
        if base is None:
            base = self._base = capture_base(self._attached.config)
        record.set_sources(
            sources_of(self.options, record.id, base.section_tokens, self._environ(), self._records)
        )
        await self._activate(record, base)
        if record.error is not None:
            raise TenantConfigError(record.error, tenant=record.id, status=record.status.value)

    async def _activate(self, record: Record, base: Base) -> bool | None:
        """Build and install a new generation; True if it changed, None if it failed."""
        tenant = record.id
        old = self._active.get(tenant)
        try:
            own = tenant_layers(
                tenant,
                files=record.files,
                variables=record.variables,
                env_prefix=f"{self.options.env_prefix or ''}{env_token(tenant)}_",
                data=record.data,
                base=base,
                max_file_bytes=self.options.max_file_bytes,
            )
            snapshot = build_snapshot(base, tenant, own)
        except TenantConfigError as exc:
            self._failed(record, exc.message, "config", keep=old is not None)
            return None
        except Exception as exc:  # noqa: BLE001 - one tenant's broken source never stops the others
            reason = f"tenant {tenant!r}: cannot build its configuration: {error_text(exc)}"
            self._failed(record, reason, "config", keep=old is not None)
            return None
        if old is not None and old.snapshot is not None and _same(old.snapshot, snapshot):
            record.error = None
            return False
        record.generations += 1
        gen = self._drainer.adopt(Generation(tenant, record.generations, snapshot))
        now = dt.datetime.now(dt.UTC)
        if old is None:
            failures = await self._notifier.notify("added", gen, self._notifier.aware())
            if failures:
                told = self._notifier.told(tenant)
                await self._notifier.notify("removed", gen, told, reverse=True)
                self._drainer.retire(gen)
                self._failed(record, failure_text("set up", tenant, failures), "added", keep=False)
                return None
            self._active[tenant] = gen
            record.status, record.error = TenantStatus.ACTIVE, None
            record.added_at = record.added_at or now
            record.updated_at = now
            self._emit(TenantEvent.ADDED, tenant, generation=gen.number)
            logger.info("tenant %r added (%s)", tenant, ", ".join(record.sources) or "no sources")
            return True
        self._active[tenant] = gen
        self._drainer.retire(old)
        record.updated_at = now
        failures = await self._notifier.notify("updated", gen, self._notifier.told(tenant))
        record.error = failure_text("apply an update of", tenant, failures) if failures else None
        self._emit(TenantEvent.UPDATED, tenant, generation=gen.number, previous=old.number)
        logger.info("tenant %r updated to generation %d", tenant, gen.number)
        return True

    async def _remove(self, tenant: str) -> None:
        record = self._records.pop(tenant)
        gen = self._active.pop(tenant, None)
        if gen is not None:
            await self._notifier.notify("removed", gen, self._notifier.told(tenant), reverse=True)
            self._emit(TenantEvent.REMOVED, tenant, generation=gen.number)
            await self._drainer.retire_and_drain([gen])
        self._notifier.forget(tenant)
        if record.provided:
            self._attached.services.unregister(f"tenant:{tenant}")
            provided = [(e, e.service.instance) for e in reversed(record.provided)]
            await close_instances(provided, f"tenant {tenant!r}")
        logger.info("tenant %r removed", tenant)

    def _failed(self, record: Record, reason: str, phase: str, *, keep: bool) -> None:
        record.error = reason
        if not keep:
            record.status = TenantStatus.FAILED
        logger.error("tenant %r %s: %s", record.id, "update rejected" if keep else "failed", reason)
        self._emit(TenantEvent.FAILED, record.id, phase=phase, error=reason, serving_previous=keep)

    # -- application hooks ---------------------------------------------------------------

    async def _on_started(self) -> None:
        await self.load()
        for tenant, gen in list(self._active.items()):
            pending = self._notifier.untold(tenant)
            if pending:
                failures = await self._notifier.notify("added", gen, pending)
                if failures:
                    self._records[tenant].error = failure_text("set up", tenant, failures)

    async def on_config_reloaded(self) -> None:
        """Rebuild every tenant on the configuration now in force, re-reading its sources.

        The reloader awaits this inside each reload, so when ``await app.reload()``
        returns, tenant contexts entered from then on see the new base values and the
        tenant files and variables as they are now. A tenant whose new configuration
        fails keeps its previous one (reported here); the reload still succeeds.
        """
        if not self._loaded:
            return
        outcome = await self.reload()
        changed = {kind: ids for kind, ids in outcome.items() if ids}
        if changed:
            logger.info("tenants after the configuration reload: %s", changed)

    def watch_trees(self) -> tuple[str | os.PathLike[str], ...]:
        """The tenant directories, for the configuration watcher."""
        return tuple(self.options.directories)

    async def aclose(self) -> None:
        """Refuse new tenant contexts, let entered ones finish, close every scoped service.

        Called when the application starts stopping. Instances are closed newest first
        across all tenants; failures are logged, never raised.
        """
        if self._closed:
            return
        self._closed = True
        async with self._load_lock:
            current = list(self._active.values())
            self._active.clear()
            await self._drainer.close_all(current, self.scopes)
            provided = [(e, e.service.instance) for r in self._records.values() for e in r.provided]
            await close_instances(list(reversed(provided)), "tenants")

    # -- reporting -----------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Problems of the tenant sources and tenants (empty when all is well)."""
        found = list(self._problems)
        found.extend(r.error for r in self._records.values() if r.error is not None)
        return found

    def health_report(self) -> HealthResult:
        """Healthy when all tenants are active and every source is readable, else degraded."""
        return health_result(self)

    def describe(self) -> dict[str, Any]:
        """Tenants, their state and the guard, for ``app.inspect()`` (no config values)."""
        return describe(self)

    # -- plumbing ------------------------------------------------------------------------

    def _lock_for(self, tenant: str) -> asyncio.Lock:
        lock = self._locks.get(tenant)
        if lock is None:
            lock = self._locks[tenant] = asyncio.Lock()
        return lock

    def _check_collision(self, tenant: str) -> None:
        """Refuse ``tenant`` when a registered id shares its variable names."""
        other = colliding(tenant, self._records)
        if other is not None:
            raise TenantExistsError(collision_text(tenant, other), tenant=tenant, existing=other)

    def _check_open(self) -> None:
        if self._closed:
            raise StateError(
                "tenants cannot change: the application is stopping or stopped", phase="tenancy"
            )

    def _emit_raw(self, event_type: str, **data: Any) -> None:
        if self._host is not None:
            self._host.emit(event_type, **data)

    def _emit(self, event_type: str, tenant: str, **data: Any) -> None:
        """Emit ``event_type`` about ``tenant`` inside its context (events carry the tenant)."""
        token = current_tenant.set(tenant)
        try:
            self._attached.emit(event_type, tenant_id=tenant, **data)
        finally:
            current_tenant.reset(token)

    def _not_found(self, tenant: object) -> PymodularError:
        if not isinstance(tenant, str):
            try:
                check_tenant_id(tenant)
            except PymodularError as exc:
                return exc
        shown = str(tenant) if len(str(tenant)) <= 64 else str(tenant)[:61] + "..."
        hint = (
            ""
            if self._loaded
            else "; tenants load when the application has started "
            "(await app.tenants.load() to load them earlier)"
        )
        return TenantNotFoundError(
            f"unknown tenant {shown!r} ({len(self._records)} tenants are registered){hint}",
            tenant=shown,
        )

    def _unavailable(self, tenant: object) -> PymodularError:
        """The error for entering or resolving a tenant that is not active."""
        if self._closed:
            return StateError(
                "tenant contexts cannot be entered: the application is stopping or stopped",
                phase="tenancy",
            )
        record = self._records.get(tenant) if isinstance(tenant, str) else None
        if record is None and self._loaded:
            return self._not_found(tenant)
        if record is not None and record.status is TenantStatus.FAILED:
            return TenantConfigError(
                f"tenant {record.id!r} is not available: {record.error}", tenant=record.id
            )
        # Not known *yet* (a StateError, not a LookupError: HTTP answers 503, not 404).
        what = f"tenant {record.id!r} is registered but" if record else "tenants are"
        return StateError(
            f"{what} not loaded yet; tenants load when the application has started "
            "(await app.tenants.load() to load them earlier)",
            phase="tenancy",
        )

    def __repr__(self) -> str:
        counts = {status.value: 0 for status in TenantStatus}
        for record in self._records.values():
            counts[record.status.value] += 1
        shown = "".join(f", {status}={count}" for status, count in counts.items() if count)
        return (
            f"<TenantRegistry(tenants={len(self._records)}{shown}, "
            f"guard={self.mode.value}, loaded={self._loaded})>"
        )


def _sections(tenant: str, data: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise TenantConfigError(
            f"tenant {tenant!r}: configuration data must be a mapping of section names to "
            f"values, got {type(data).__qualname__}",
            tenant=tenant,
        )
    return dict(data)


def _same(old: ConfigSnapshot, new: ConfigSnapshot) -> bool:
    return dict(old.sections) == dict(new.sections)
