"""The service registry: lookup by name and by type on precomputed indexes (FR-004, FR-044).

Lookups of ready global services are a single dict hit (``_fast``). Everything else —
ranking candidates, scoped instances, errors that explain near misses — happens on
the slow path, whose results are cached until the next registration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, Protocol, TypeVar, overload

from pymodular._context import current_module, current_tenant
from pymodular._text import with_article
from pymodular.errors import (
    AmbiguousServiceError,
    PymodularError,
    RegistrationError,
    ServiceNotFoundError,
    ServiceNotReadyError,
)
from pymodular.services._explain import explain_missing
from pymodular.services._rank import choose, rank
from pymodular.services._scopes import InstanceScopes
from pymodular.services._service import (
    _NOT_SET,
    Availability,
    Service,
    ServiceEntry,
    ServiceScope,
    _conforms,
)

__all__ = ("ScopeResolver", "ServiceRegistry")

T = TypeVar("T")


class ScopeResolver(Protocol):
    """Builds, caches and closes instances of tenant- and instance-scoped services."""

    def resolve(self, entry: ServiceEntry, instance: str | None) -> Any:
        """Return the instance of ``entry`` for the current tenant or the named instance."""

    async def aclose(self) -> None:
        """Close every object built so far (the application is stopping)."""


class ServiceRegistry:
    """All services of one application, indexed by name and by type.

    Services are registered per provider in one all-or-nothing step. Lookups::

        registry.get("greeter")            # by name -> Any
        registry.get(Cache)                # by type -> Cache (ranked, FR-044)
        registry.get(Cache, name="redis")  # the type's candidate with that name
        registry.get_all(Cache)            # every candidate, best first

    Tenant- and instance-scoped services are built by the scope resolver: by default an
    :class:`InstanceScopes`, to which ``instances(provider)`` names the instances an
    instance-aware provider has configured; tenancy wraps it.
    """

    def __init__(self, *, instances: Callable[[str], Collection[str] | None] | None = None) -> None:
        self._lock = threading.RLock()
        self._entries: list[ServiceEntry] = []
        self._by_provider: dict[str, list[ServiceEntry]] = {}
        self._by_name: dict[str, ServiceEntry] = {}
        self._declared: dict[type[Any], list[ServiceEntry]] = {}
        self._implicit: dict[type[Any], list[ServiceEntry]] = {}
        self._sequence = 0
        # Caches, cleared on every change: value for ready global services, ranking,
        # and the winning entry for ready tenant- and instance-scoped services.
        self._fast: dict[object, Any] = {}
        self._ranked: dict[object, list[ServiceEntry]] = {}
        self._scoped: dict[object, ServiceEntry] = {}
        self._scopes: ScopeResolver = InstanceScopes(instances)
        # Objects registered for one tenant (Service(..., tenant="acme")), by lookup key
        # then tenant: found only in that tenant's context, ahead of everything else, never
        # ranked. A key listed here is never cached in ``_fast`` (the cache has no tenant).
        self._pinned: dict[object, dict[str, ServiceEntry]] = {}

    # -- registration -------------------------------------------------------------------

    def register(
        self, provider: str, services: Sequence[Service[Any]], *, pending: bool = False
    ) -> list[ServiceEntry]:
        """Register ``services`` for ``provider`` all-or-nothing; they are ready at once.

        Every declaration is validated and every name checked for duplicates (against
        the registry and within the batch) before anything is stored; factories run now
        and a failing one leaves nothing of the batch behind. Services declared together
        share one registration moment, so they tie on registration order.

        ``pending=True`` is what the application does for a module's services: they are
        stored but become ready only when :meth:`mark_ready` is called for their
        availability (after the module's init or start).
        """
        entries = self._store(provider, services)
        if pending:
            return entries
        try:
            with self._lock:
                for availability in Availability:
                    self._materialise(provider, entries, availability)
                self._changed()
        except PymodularError:
            self._discard(lambda entry: entry in entries)
            raise
        return entries

    def _store(self, provider: str, services: Sequence[Service[Any]]) -> list[ServiceEntry]:
        for service in services:
            if not isinstance(service, Service):
                raise RegistrationError(
                    f"module {provider!r} provides {service!r}, which is not a Service",
                    module=provider,
                    phase="register",
                )
            service.validate(provider)
        with self._lock:
            seen: dict[str, str] = {}
            for service in services:
                if service.name is None:
                    continue
                key = _name_key(service)
                if key in self._by_name or key in seen:
                    owner = self._by_name[key].provider if key in self._by_name else provider
                    raise RegistrationError(
                        f"module {provider!r} cannot provide service {service.name!r}: "
                        f"module {owner!r} already provides a service of that name "
                        "(names are never renamed silently: choose another name)",
                        module=provider,
                        phase="register",
                        service=service.name,
                    )
                seen[key] = provider
            self._sequence += 1
            entries = [ServiceEntry(s, provider, self._sequence) for s in services]
            self._by_provider.setdefault(provider, []).extend(entries)
            for entry in entries:
                self._entries.append(entry)
                if entry.name is not None:
                    self._by_name[_name_key(entry.service)] = entry
                if entry.service.tenant is not None:
                    self._pin(entry)
                    continue
                for iface in entry.service.interfaces:
                    self._declared.setdefault(iface, []).append(entry)
                # A factory's value is indexed when it is made (mark_ready), and mark_ready indexes
                # every global value too: changing this test only moves when indexing happens.
                made_global = entry.scope is ServiceScope.GLOBAL  # pragma: no mutate
                if entry.service.has_instance and made_global:  # pragma: no mutate
                    self._index_value(entry, entry.service.instance)
            self._changed()
            return entries

    def unregister(self, provider: str) -> None:
        """Remove every service of ``provider`` (used to roll back a failed registration)."""
        self._discard(lambda entry: entry.provider == provider)

    def _discard(self, gone: Callable[[ServiceEntry], bool]) -> None:
        with self._lock:
            self._entries = [e for e in self._entries if not gone(e)]
            for provider in list(self._by_provider):
                kept_entries = [e for e in self._by_provider[provider] if not gone(e)]
                if kept_entries:
                    self._by_provider[provider] = kept_entries
                else:
                    del self._by_provider[provider]
            self._by_name = {k: e for k, e in self._by_name.items() if not gone(e)}
            for index in (self._declared, self._implicit):
                for key in list(index):
                    index[key] = [e for e in index[key] if not gone(e)]
                    if not index[key]:
                        del index[key]
            for lookup in list(self._pinned):
                kept = {t: e for t, e in self._pinned[lookup].items() if not gone(e)}
                if kept:
                    self._pinned[lookup] = kept
                else:
                    del self._pinned[lookup]
            self._changed()

    def _pin(self, entry: ServiceEntry) -> None:
        tenant = entry.service.tenant
        assert tenant is not None
        keys: list[object] = [] if entry.name is None else [entry.name]
        for iface in entry.service.interfaces:
            keys.append(iface)
            if entry.name is not None:
                keys.append((iface, entry.name))
        for key in keys:
            self._pinned.setdefault(key, {})[tenant] = entry

    def _pinned_entry(self, fast_key: object, instance: str | None) -> ServiceEntry | None:
        """The object registered under ``fast_key`` for ``instance`` or the current tenant."""
        by_tenant = self._pinned.get(fast_key)
        if not by_tenant:
            return None
        tenant = instance if instance is not None else current_tenant.get()
        return None if tenant is None else by_tenant.get(tenant)

    def mark_ready(self, provider: str, availability: Availability) -> None:
        """Materialise ``provider``'s global services that become available at this point.

        Factories run now; each result is checked against the declared interfaces.
        """
        with self._lock:
            entries = self._by_provider.get(provider, ())
            if self._materialise(provider, entries, availability):
                self._changed()

    def _materialise(
        self, provider: str, entries: Sequence[ServiceEntry], availability: Availability
    ) -> bool:
        """Make ``entries`` of ``availability`` ready; whether any changed."""
        changed = False  # pragma: no mutate  (True only clears the lookup caches once more)
        for entry in entries:
            if entry.ready or entry.service.available is not availability:
                continue
            changed = True
            if entry.scope is not ServiceScope.GLOBAL:
                entry.ready = True
                continue
            value = entry.service.instance
            if value is _NOT_SET:
                assert entry.service.factory is not None
                value = entry.service.factory()
                for iface in entry.service.interfaces:
                    if not _conforms(value, iface):
                        raise RegistrationError(
                            f"module {provider!r}: the factory of service "
                            f"{entry.name or iface.__qualname__!r} returned "
                            f"{with_article(type(value).__qualname__)}, not an instance of "
                            f"{iface.__qualname__}",
                            module=provider,
                            phase=availability.value,
                        )
            self._index_value(entry, value)
            entry.ready = True
        return changed

    def _index_value(self, entry: ServiceEntry, value: Any) -> None:
        entry.value = value
        for tp in type(value).__mro__[:-1]:  # every class but object
            bucket = self._implicit.setdefault(tp, [])
            if entry not in bucket:
                bucket.append(entry)

    def _changed(self) -> None:
        self._fast = {}
        self._ranked = {}
        self._scoped = {}

    @property
    def scope_resolver(self) -> ScopeResolver:
        """The resolver that builds tenant- and instance-scoped objects."""
        return self._scopes

    def set_scope_resolver(self, resolver: ScopeResolver) -> None:
        """Install a resolver that builds scoped objects (tenancy wraps the current one)."""
        self._scopes = resolver
        self._changed()

    async def close_scoped(self) -> None:
        """Close every scoped object built so far, newest first (the ``SCOPES`` stage)."""
        await self._scopes.aclose()

    # -- lookup ------------------------------------------------------------------------

    @overload
    def get(self, key: type[T], *, name: str | None = None, instance: str | None = None) -> T: ...
    @overload
    def get(self, key: str, *, instance: str | None = None) -> Any: ...
    def get(
        self, key: type[Any] | str, *, name: str | None = None, instance: str | None = None
    ) -> Any:
        """Return the service for ``key`` (a name or a type).

        Raises :class:`~pymodular.errors.ServiceNotFoundError` (with the near misses),
        :class:`~pymodular.errors.AmbiguousServiceError` (with every candidate) or
        :class:`~pymodular.errors.ServiceNotReadyError` (with the provider's phase).
        """
        fast_key: object = key if name is None else (key, name)
        # The cache holds only global values of unpinned keys, which the slow path returns
        # for any instance too: the test saves time, it decides nothing.
        if instance is None:  # pragma: no mutate
            try:
                return self._fast[fast_key]
            except KeyError:
                pass
        return self._get_slow(key, name, instance, fast_key)

    @overload
    def get_optional(self, key: type[T], *, name: str | None = None) -> T | None: ...
    @overload
    def get_optional(self, key: str) -> Any: ...
    def get_optional(self, key: type[Any] | str, *, name: str | None = None) -> Any:
        """Like :meth:`get`, but ``None`` when nothing matches (ambiguity still raises)."""
        fast_key: object = key if name is None else (key, name)
        try:
            return self._fast[fast_key]
        except KeyError:
            pass
        if not self.candidates(key, name=name) and self._pinned_entry(fast_key, None) is None:
            return None
        return self._get_slow(key, name, None, fast_key)

    def get_all(self, key: type[T]) -> list[T]:
        """Every ready global candidate for ``key``, best first (priority, then registration)."""
        return [e.value for e in self.candidates(key) if e.ready and e.scope is ServiceScope.GLOBAL]

    def entry(self, key: type[Any] | str, *, name: str | None = None) -> ServiceEntry:
        """The winning :class:`ServiceEntry` for ``key`` (for introspection and injection)."""
        found = self.candidates(key, name=name)
        if not found:
            raise explain_missing(self, key, name)
        return self._winner(key, name, found)

    def candidates(self, key: type[Any] | str, *, name: str | None = None) -> list[ServiceEntry]:
        """Entries matching ``key`` (and ``name``), ranked best first; cached."""
        cache_key: object = (key, name)
        cached = self._ranked.get(cache_key)
        if cached is not None:
            return cached
        with self._lock:
            if isinstance(key, str):
                entry = self._by_name.get(key)
                found = [entry] if entry is not None else []
            else:
                pool = self._declared.get(key) or self._implicit.get(key)
                if not pool and getattr(key, "_is_runtime_protocol", False):
                    pool = [
                        e
                        for e in self._entries
                        if e.value is not _NOT_SET and _conforms(e.value, key)
                    ]
                found = list(pool or ())
                if name is not None:
                    found = [e for e in found if e.name == name]
            ranked = rank(found)
            self._ranked[cache_key] = ranked
            return ranked

    def missing(self, key: type[Any] | str, *, name: str | None = None) -> ServiceNotFoundError:
        """The error explaining why nothing provides ``key``: similar names, near misses."""
        return explain_missing(self, key, name)

    def value_of(self, entry: ServiceEntry, key: type[Any] | str) -> Any:
        """The object of a global ``entry`` found for ``key``, or the not-ready error."""
        if not entry.ready:
            raise self._not_ready(entry, key)
        return entry.value

    def _winner(
        self, key: type[Any] | str, name: str | None, found: list[ServiceEntry]
    ) -> ServiceEntry:
        winner = choose(found)
        if winner is None:
            label = key if isinstance(key, str) else key.__qualname__
            listing = "; ".join(
                f"{e.name or '<unnamed>'} from module {e.provider!r} "
                f"(priority {e.priority}, registration #{e.sequence})"
                for e in found
            )
            raise AmbiguousServiceError(
                f"{len(found)} services match {label}: {listing}. Ask by name "
                f"(get({label}, name=...)) or give one a higher priority",
                requested=str(label),
                candidates=[e.describe() for e in found],
            )
        return winner

    def _get_slow(
        self, key: type[Any] | str, name: str | None, instance: str | None, fast_key: object
    ) -> Any:
        scopes = self._scopes
        if fast_key in self._pinned:
            pinned = self._pinned_entry(fast_key, instance)
            if pinned is not None:
                return scopes.resolve(pinned, instance)
        scoped = self._scoped.get(fast_key)
        if scoped is not None:
            return scopes.resolve(scoped, instance)
        found = self.candidates(key, name=name)
        if not found:
            raise explain_missing(self, key, name)
        entry = self._winner(key, name, found)
        if not entry.ready:
            raise self._not_ready(entry, key)
        if entry.service.scope is ServiceScope.GLOBAL:
            if instance is None and fast_key not in self._pinned:
                self._fast[fast_key] = entry.value
            return entry.value
        self._scoped[fast_key] = entry
        return scopes.resolve(entry, instance)

    def _not_ready(self, entry: ServiceEntry, key: type[Any] | str) -> ServiceNotReadyError:
        label = key if isinstance(key, str) else key.__qualname__
        asking = current_module.get()
        who = (
            f"module {asking[0]!r} asked for it during its {asking[1]}"
            if asking
            else ("it was asked for")
        )
        when = entry.service.available.value
        advice = (
            "fetch it in start() instead of init()"
            if when == "start"
            else f"declare the dependency (depends_on=({entry.provider!r},) or a Dependency)"
        )
        return ServiceNotReadyError(
            f"service {label!r} is provided by module {entry.provider!r} only after that "
            f"module's {when}; {who}, which is before that: {advice}",
            module=asking[0] if asking else None,
            phase=asking[1] if asking else None,
            provider=entry.provider,
        )

    # -- listing -----------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str | type):
            return bool(self.candidates(key))
        return False  # pragma: no mutate  (`in` makes a bool of it: None says the same)

    def __iter__(self) -> Iterator[ServiceEntry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, *, provider: str | None = None) -> list[ServiceEntry]:
        """Registered entries in registration order, optionally of one provider."""
        if provider is not None:
            return list(self._by_provider.get(provider, ()))
        return list(self._entries)

    def describe(self) -> list[dict[str, Any]]:
        """JSON-serialisable listing: name, interfaces, scope, priority, provider, state."""
        return [e.describe() for e in self._entries]

    def names(self) -> list[str]:
        """Every registered service name."""
        return [e.name for e in self._entries if e.name is not None]

    def __repr__(self) -> str:
        return f"<ServiceRegistry(num_services={len(self._entries)})>"


def _name_key(service: Service[Any]) -> str:
    assert service.name is not None
    if service.scope is ServiceScope.TENANT and service.tenant:
        return f"{service.name}@{service.tenant}"
    return service.name
