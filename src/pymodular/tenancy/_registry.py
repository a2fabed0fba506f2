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
from collections.abc import Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pymodular._context import current_tenant
from pymodular.errors import PymodularError, RegistrationError, StateError
from pymodular.secrets import redact
from pymodular.services import Availability, Service, ServiceScope
from pymodular.tenancy._config import Base, build_snapshot, capture_base, tenant_layers
from pymodular.tenancy._context import TenantScope, current_tenant_id, pin, unpin
from pymodular.tenancy._generation import Generation, TenantKey
from pymodular.tenancy._guard import TenantGuard
from pymodular.tenancy._options import GuardMode, TenancyOptions
from pymodular.tenancy._scopes import Scopes, close_instances
from pymodular.tenancy._sources import (
    check_tenant_id,
    env_token,
    scan_directories,
    scan_environment,
)
from pymodular.tenancy._tenant import Record, Tenant, TenantEvent, TenantStatus
from pymodular.tenancy.errors import (
    TenantConfigError,
    TenantExistsError,
    TenantNotFoundError,
)

if TYPE_CHECKING:
    from pymodular._registration import ModuleRecord
    from pymodular.application import Application
    from pymodular.config import ConfigSnapshot, FieldProvenance

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

    def __init__(self, app: Application, options: TenancyOptions) -> None:
        self._app = app
        self.options = options
        self.guard = TenantGuard(options.mode, emit=app.emit, capacity=options.violation_capacity)
        self.scopes = Scopes(app, self)
        self._active: dict[str, Generation] = {}
        self._records: dict[str, Record] = {}
        self._problems: list[str] = []
        self._told: dict[str, set[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._load_lock = asyncio.Lock()
        self._base: Base | None = None
        self._loaded = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._drains: dict[Generation, asyncio.Event] = {}
        self._retiring: set[Generation] = set()
        for tenant, data in options.tenants.items():
            check_tenant_id(tenant)
            self._records[tenant] = Record(tenant, data=_sections(tenant, data), programmatic=True)

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
            config=gen.snapshot if gen is not None else None,
        )

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
            return self._app.config.snapshot
        return gen.snapshot

    def section(self, name: str, tenant: str | None = None) -> Any:
        """Section ``name`` of the current tenant's (or ``tenant``'s) configuration."""
        gen = self._generation_for(tenant, f"configuration section {name!r}")
        snapshot = self._app.config.snapshot if gen is None else gen.snapshot
        assert snapshot is not None
        return snapshot.section(name)

    def provenance(self, path: str, tenant: str | None = None) -> FieldProvenance:
        """Where ``path`` (``"database.dsn"``) of the tenant's configuration came from."""
        return self.config(tenant).provenance(path)

    def _generation_for(self, tenant: str | None, what: str) -> Generation | None:
        key = current_tenant.get()
        current = None if key is None else str(key)
        requested = tenant if tenant is not None else current
        if requested is None:
            self.guard.missing_context(what)
            return None
        if current is not None and requested != current:
            self.guard.cross_tenant(what, current, requested)
            if self.guard.mode is not GuardMode.DISABLED:
                return None
        if type(key) is TenantKey and key == requested:
            gen = key.generation
            if gen is not None and not gen.closed:
                return gen
        gen = self._active.get(requested)
        if gen is None:
            raise self._unavailable(requested)
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
            self._loop = asyncio.get_running_loop()
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
            return {"added": self.ids(TenantStatus.ACTIVE), "updated": [], "removed": [],
                    "failed": self.ids(TenantStatus.FAILED)}  # fmt: skip
        async with self._load_lock:
            self._check_open()
            return await self._sync()

    async def _sync(self) -> dict[str, list[str]]:
        outcome: dict[str, list[str]] = {"added": [], "updated": [], "removed": [], "failed": []}
        try:
            base = capture_base(self._app.config)
        except PymodularError as exc:
            self._problems = [f"cannot read the base configuration for tenants: {exc.message}"]
            logger.error("tenants not (re)loaded: %s", self._problems[0])
            return outcome
        self._base = base
        found = self._scan(base)
        wanted = dict(found)
        for tenant, record in list(self._records.items()):
            if tenant not in wanted and record.discovered and not record.programmatic:
                await self._remove(tenant)
                outcome["removed"].append(tenant)
        for tenant, (files, variables) in wanted.items():
            known = self._records.get(tenant)
            if known is None:
                if len(self._records) >= self.options.max_tenants:
                    self._problems.append(
                        f"tenant {tenant!r} ignored: already {self.options.max_tenants} tenants "
                        "(TenancyOptions.max_tenants)"
                    )
                    continue
                known = self._records[tenant] = Record(tenant)
            known.files, known.variables = files, variables
        for tenant in list(self._records):
            record = self._records[tenant]
            if tenant not in wanted and record.discovered:
                record.files, record.variables = (), {}
            async with self._lock_for(tenant):
                if self._records.get(tenant) is not record:
                    continue
                before = record.status
                changed = await self._activate(record, base)
            if record.status is TenantStatus.FAILED or (changed is None and record.error):
                outcome["failed"].append(tenant)
            elif before is not TenantStatus.ACTIVE and record.status is TenantStatus.ACTIVE:
                outcome["added"].append(tenant)
            elif changed:
                outcome["updated"].append(tenant)
            await asyncio.sleep(0)  # let requests run between tenants
        return outcome

    def _scan(self, base: Base) -> dict[str, tuple[tuple[Any, ...], dict[str, str]]]:
        options = self.options
        scan = scan_directories(options.directories, required=options.directories_required)
        self._problems = list(scan.problems)
        for problem in scan.problems:
            logger.warning("tenant sources: %s", problem)
        found: dict[str, tuple[tuple[Any, ...], dict[str, str]]] = {
            tenant: (tuple(files), {}) for tenant, files in scan.files.items()
        }
        if options.env_prefix is None:
            return found
        by_token = scan_environment(self._environ(), options.env_prefix, base.section_tokens)
        known = {env_token(t): t for t in [*self._records, *found]}
        for token, variables in by_token.items():
            tenant = known.get(token)
            if tenant is None:
                if not options.discover_env:
                    continue
                tenant = token.lower()
                try:
                    check_tenant_id(tenant)
                except PymodularError as exc:
                    self._problems.append(f"ignored variables {options.env_prefix}{token}_*: {exc}")
                    continue
            files = found.get(tenant, ((), {}))[0]
            found[tenant] = (files, variables)
        return found

    def _environ(self) -> Mapping[str, str]:
        import os

        return os.environ if self.options.environ is None else self.options.environ

    def _variables_for(self, tenant: str, base: Base) -> dict[str, str]:
        if self.options.env_prefix is None:
            return {}
        by_token = scan_environment(self._environ(), self.options.env_prefix, base.section_tokens)
        return by_token.get(env_token(tenant), {})

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
            if len(self._records) >= self.options.max_tenants:
                raise RegistrationError(
                    f"cannot add tenant {tenant!r}: the limit of {self.options.max_tenants} "
                    "tenants is reached (TenancyOptions.max_tenants)",
                    tenant=tenant,
                )
            record = self._records[tenant] = Record(tenant, data=sections, programmatic=True)
            if self._loaded:
                base = self._base_now()
                record.files = tuple(self._files_for(tenant))
                record.variables = self._variables_for(tenant, base)
                await self._activate(record, base)
                self._raise_failure(record)
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
                base = self._base_now()
                record.files = tuple(self._files_for(tenant))
                record.variables = self._variables_for(tenant, base)
                await self._activate(record, base)
                self._raise_failure(record)
        return self.get(tenant)

    async def remove(self, tenant: str) -> None:
        """Remove ``tenant``: new contexts are refused at once, ``TenantAware`` modules are
        told (``"removed"``, in reverse start order), and its tenant-scoped services are
        closed, newest first, once contexts already entered have exited (waiting at most
        ``drain_timeout`` seconds)."""
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
        entries = self._app.services.register(provider, services)
        self._app.services.mark_ready(provider, Availability.INIT)
        self._records[tenant].provided.extend(entries)

    # -- the work behind the changes -----------------------------------------------------

    async def _activate(self, record: Record, base: Base) -> bool | None:
        """Build and install a new generation; True if it changed, None if it failed."""
        tenant = record.id
        old = self._active.get(tenant)
        try:
            layers = tenant_layers(
                tenant,
                files=record.files,
                variables=record.variables,
                env_prefix=f"{self.options.env_prefix or ''}{env_token(tenant)}_",
                data=record.data,
                base=base,
                max_file_bytes=self.options.max_file_bytes,
            )
            snapshot = build_snapshot(base, tenant, layers)
        except TenantConfigError as exc:
            self._failed(record, exc.message, "config", keep=old is not None)
            return None
        if old is not None and old.snapshot is not None and _same(old.snapshot, snapshot):
            record.error = None
            return False
        record.generations += 1
        gen = Generation(tenant, record.generations, snapshot, record.sources)
        gen.on_drained = self._drained
        now = dt.datetime.now(dt.UTC)
        if old is None:
            failures = await self._notify("added", gen, self._aware())
            if failures:
                await self._notify("removed", gen, self._told_modules(tenant), reverse=True)
                self._retire(gen)
                self._failed(record, _failure_text("set up", tenant, failures), "added", keep=False)
                return None
            self._active[tenant] = gen
            record.status, record.error = TenantStatus.ACTIVE, None
            record.added_at = record.added_at or now
            record.updated_at = now
            self._emit(TenantEvent.ADDED, gen)
            logger.info("tenant %r added (%s)", tenant, ", ".join(record.sources) or "no sources")
            return True
        self._active[tenant] = gen
        self._retire(old)
        record.updated_at = now
        failures = await self._notify("updated", gen, self._told_modules(tenant))
        record.error = _failure_text("apply an update of", tenant, failures) if failures else None
        self._emit(TenantEvent.UPDATED, gen, previous=old.number)
        logger.info("tenant %r updated to generation %d", tenant, gen.number)
        return True

    async def _remove(self, tenant: str) -> None:
        record = self._records.pop(tenant)
        gen = self._active.pop(tenant, None)
        if gen is not None:
            await self._notify("removed", gen, self._told_modules(tenant), reverse=True)
            self._emit(TenantEvent.REMOVED, gen)
            await self._retire_and_drain([gen])
        for told in self._told.values():
            told.discard(tenant)
        if record.provided:
            self._app.services.unregister(f"tenant:{tenant}")
            await close_instances(
                [(e, e.service.instance) for e in reversed(record.provided)], f"tenant {tenant!r}"
            )
        logger.info("tenant %r removed", tenant)

    def _failed(self, record: Record, reason: str, phase: str, *, keep: bool) -> None:
        record.error = reason
        if not keep:
            record.status = TenantStatus.FAILED
        logger.error("tenant %r %s: %s", record.id, "update rejected" if keep else "failed", reason)
        token = current_tenant.set(record.id)
        try:
            self._app.emit(
                TenantEvent.FAILED,
                tenant_id=record.id,
                phase=phase,
                error=reason,
                serving_previous=keep,
            )
        finally:
            current_tenant.reset(token)

    def _raise_failure(self, record: Record) -> None:
        if record.error is not None:
            raise TenantConfigError(record.error, tenant=record.id, status=record.status.value)

    # -- TenantAware notifications -------------------------------------------------------

    def _aware(self) -> list[ModuleRecord]:
        return [r for r in self._app.started_records() if r.tenant_aware]

    def _told_modules(self, tenant: str) -> list[ModuleRecord]:
        return [r for r in self._aware() if tenant in self._told.get(r.name, ())]

    async def _notify(
        self, event: str, gen: Generation, modules: list[ModuleRecord], *, reverse: bool = False
    ) -> list[tuple[str, str]]:
        failures: list[tuple[str, str]] = []
        token = pin(gen)
        try:
            for record in reversed(modules) if reverse else modules:
                try:
                    async with asyncio.timeout(self.options.notify_timeout):
                        await record.module.on_tenant(event, gen.tenant)  # type: ignore[attr-defined]
                except Exception as exc:  # noqa: BLE001 - a module's failure is the tenant's, not ours
                    if isinstance(exc, TimeoutError):
                        reason = f"did not finish within {self.options.notify_timeout:g} s"
                    else:
                        reason = redact(f"{type(exc).__name__}: {exc}")
                    failures.append((record.name, reason))
                    logger.error(
                        "module %r failed to handle tenant %r %s: %s",
                        record.name, gen.tenant, event, reason,
                    )  # fmt: skip
                    continue
                told = self._told.setdefault(record.name, set())
                if event == "removed":
                    told.discard(gen.tenant)
                else:
                    told.add(gen.tenant)
        finally:
            unpin(gen, token)
        return failures

    async def _catch_up(self) -> None:
        """Tell modules that started after a tenant was added about it."""
        for tenant, gen in list(self._active.items()):
            pending = [r for r in self._aware() if tenant not in self._told.get(r.name, ())]
            if pending:
                failures = await self._notify("added", gen, pending)
                if failures:
                    self._records[tenant].error = _failure_text("set up", tenant, failures)

    # -- closing -------------------------------------------------------------------------

    def _drained(self, gen: Generation) -> None:
        """A retired generation has no context left: close its services (any thread)."""
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._start_close(gen)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._start_close, gen)

    def _retire(self, gen: Generation) -> None:
        self._retiring.add(gen)
        gen.retire()

    def _start_close(self, gen: Generation) -> None:
        self._retiring.discard(gen)
        items = gen.forget()
        event = self._drains.pop(gen, None)
        if event is not None:
            event.set()
        if items:
            self._spawn(close_instances([(e, v) for _, e, v in items], f"tenant {gen.tenant!r}"))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            logger.warning("tenant services could not be closed: no event loop is running")
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retire_and_drain(self, gens: list[Generation]) -> None:
        waiting: list[asyncio.Event] = []
        for gen in gens:
            if gen.active:
                waiting.append(self._drains.setdefault(gen, asyncio.Event()))
            self._retire(gen)
        if waiting:
            try:
                async with asyncio.timeout(self.options.drain_timeout):
                    for event in waiting:
                        await event.wait()
            except TimeoutError:
                busy = [g for g in gens if not g.closed]
                logger.warning(
                    "closing the services of %d tenant generation(s) with contexts still "
                    "active after %g s: %s",
                    len(busy), self.options.drain_timeout,
                    ", ".join(f"{g.tenant!r} ({g.active} active)" for g in busy),
                )  # fmt: skip
                for gen in busy:
                    gen.drained()
        await self._settle()

    async def _settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Refuse new tenant contexts, let entered ones finish, close every scoped service.

        Called when the application starts stopping. Instances are closed newest first
        across all tenants; failures are logged, never raised.
        """
        if self._closed:
            return
        self._closed = True
        async with self._load_lock:
            gens = [*self._active.values(), *(g for g in self._retiring if not g.closed)]
            self._active.clear()
            self._retiring.clear()
            for gen in gens:
                gen.on_drained = None  # closed below, together, in global creation order
            waiting = [self._drains.setdefault(g, asyncio.Event()) for g in gens if g.active]
            for gen in gens:
                gen.on_drained = self._mark_drained
                gen.retire()
            if waiting:
                try:
                    async with asyncio.timeout(self.options.drain_timeout):
                        for event in waiting:
                            await event.wait()
                except TimeoutError:
                    logger.warning(
                        "stopping with tenant contexts still active after %g s",
                        self.options.drain_timeout,
                    )
            await self._settle()
            await self.scopes.aclose([item for gen in gens for item in gen.forget()])
            provided = [(e, e.service.instance) for r in self._records.values() for e in r.provided]
            await close_instances(list(reversed(provided)), "tenants")

    def _mark_drained(self, gen: Generation) -> None:
        event = self._drains.pop(gen, None)
        if event is not None:
            event.set()

    # -- plumbing ------------------------------------------------------------------------

    def _lock_for(self, tenant: str) -> asyncio.Lock:
        lock = self._locks.get(tenant)
        if lock is None:
            lock = self._locks[tenant] = asyncio.Lock()
        return lock

    def _base_now(self) -> Base:
        if self._base is None:
            self._base = capture_base(self._app.config)
        return self._base

    def _files_for(self, tenant: str) -> list[Any]:
        scan = scan_directories(self.options.directories, required=False, only=tenant)
        return scan.files.get(tenant, [])

    def _check_open(self) -> None:
        if self._closed:
            raise StateError(
                "tenants cannot change: the application is stopping or stopped", phase="tenancy"
            )

    def _emit(self, event_type: str, gen: Generation, **data: Any) -> None:
        token = current_tenant.set(gen.tenant)
        try:
            self._app.emit(event_type, tenant_id=gen.tenant, generation=gen.number, **data)
        finally:
            current_tenant.reset(token)

    def _not_found(self, tenant: object) -> PymodularError:
        if not isinstance(tenant, str):
            return check_tenant_error(tenant)
        shown = tenant if len(tenant) <= 64 else tenant[:61] + "..."
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
                f"tenant {tenant!r} cannot be used: the application is stopping or stopped",
                phase="tenancy",
            )
        record = self._records.get(tenant) if isinstance(tenant, str) else None
        if record is None:
            return self._not_found(tenant)
        if record.status is TenantStatus.FAILED:
            return TenantConfigError(
                f"tenant {record.id!r} is not available: {record.error}", tenant=record.id
            )
        return TenantNotFoundError(
            f"tenant {record.id!r} is registered but not loaded yet; tenants load when the "
            "application has started (await app.tenants.load() to load them earlier)",
            tenant=record.id,
        )

    async def _on_started(self) -> None:
        await self.load()
        await self._catch_up()

    def problems(self) -> list[str]:
        """Problems of the tenant sources and tenants (empty when all is well)."""
        found = list(self._problems)
        found.extend(
            f"tenant {r.id!r}: {r.error}" for r in self._records.values() if r.error is not None
        )
        return found

    def describe(self) -> dict[str, Any]:
        """Tenants, their state and the guard, for ``app.inspect()`` (no config values)."""
        counts = {status.value: 0 for status in TenantStatus}
        tenants = []
        for record in list(self._records.values()):
            counts[record.status.value] += 1
            gen = self._active.get(record.id)
            tenants.append(
                {
                    **self.get(record.id).as_dict(),
                    "services": len(gen.order) if gen is not None else 0,
                    "contexts": gen.active if gen is not None else 0,
                }
            )
        return {
            "loaded": self._loaded,
            "guard": self.guard.describe(),
            "counts": counts,
            "problems": self.problems(),
            "scoped_instances": self.scopes.instances(),
            "tenants": tenants,
        }


def check_tenant_error(tenant: object) -> PymodularError:
    """The error :func:`check_tenant_id` raises for ``tenant`` (which must be invalid)."""
    try:
        check_tenant_id(tenant)
    except PymodularError as exc:
        return exc
    return TenantNotFoundError(f"unknown tenant {tenant!r}", tenant=str(tenant))


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


def _failure_text(action: str, tenant: str, failures: list[tuple[str, str]]) -> str:
    return "; ".join(f"module {m!r} failed to {action} tenant {tenant!r}: {r}" for m, r in failures)
