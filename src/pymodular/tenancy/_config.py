"""Tenant configuration (FR-041): base -> instance -> tenant, with provenance per tenant.

A tenant's configuration is the application's configuration (every feeder, including
instance-aware sections such as ``database.primary``) with the tenant's own layers on
top, lowest first:

1. the tenant's files, one per tenant directory (``tenants/acme.yaml``);
2. its tenant-affixed environment variables (``TENANT_ACME_DATABASE__DSN``);
3. data registered programmatically (``app.tenants.add("acme", {...})``).

Everything is validated with the application's section models and validators, so a
tenant gets the same guarantees as the base configuration, and its snapshot's
provenance names the tenant file line or variable that set each value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymodular.errors import ConfigError
from pymodular.tenancy.errors import TenantConfigError

if TYPE_CHECKING:
    from pymodular.config import ConfigSnapshot, Configuration, Layer, SectionSpec

__all__ = ("Base", "build_snapshot", "capture_base", "tenant_layers")


@dataclass(frozen=True)
class Base:
    """The layers the application's current configuration was built from."""

    specs: tuple[SectionSpec, ...]
    layers: tuple[Layer, ...]
    validators: tuple[Callable[..., Any], ...]
    strict: bool
    env_prefix: str | None
    resolvers: tuple[Any, ...] = ()
    verbose: bool = False
    """Log each tenant's lookups (``Application(verbose_config=True)``)."""

    @property
    def section_tokens(self) -> list[str]:
        """Environment tokens of every section (``DATABASE``, ``DB``)."""
        return [spec.env_token for spec in self.specs]


def capture_base(config: Configuration) -> Base:
    """The layers the application's current configuration was built from.

    Tenants layer over exactly the base the application runs with; nothing is read
    again (a dynamic reload applies a new snapshot first, then rebuilds tenants).
    """
    snapshot = config.snapshot
    # Tenants must pass the app-level validators too.
    return Base(
        tuple(snapshot.specs.values()),
        snapshot.layers,
        config.validators,
        config.strict,
        config.env_prefix,
        config.secret_resolvers,
        config.verbose,
    )


class _Replay:
    """A feeder that hands out copies of already-read layers (the base, per tenant)."""

    name = "base"
    required = False
    priority = None

    def __init__(self, base: Base) -> None:
        self._base = base
        self.env_prefix = base.env_prefix

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        # Each tenant gets its own copy: no mutable value is shared between tenants.
        return copy.deepcopy(self._base.layers)


def tenant_layers(
    tenant: str,
    *,
    files: Sequence[Path],
    variables: Mapping[str, str],
    env_prefix: str,
    data: Mapping[str, Any] | None,
    base: Base,
    max_file_bytes: int,
) -> list[Layer]:
    """Read the tenant's own layers, lowest precedence first.

    Raises :class:`TenantConfigError` naming the tenant and the file or variable at fault.
    """
    from pymodular.config import Layer
    from pymodular.config.feeders import DirectoryFeeder, EnvFeeder

    by_suffix = dict(DirectoryFeeder.FORMATS)
    layers: list[Layer] = []
    folders: dict[Path, Path] = {}
    try:
        for path in files:
            other = folders.setdefault(path.parent, path)
            if other != path:
                raise ConfigError(
                    f"tenant {tenant!r} has two files in {path.parent} ({other.name} and "
                    f"{path.name}); keep one",
                    source=str(path),
                )
            feeder = by_suffix[path.suffix.lower()](
                path, name="tenant-file", max_bytes=max_file_bytes
            )
            layers.extend(feeder.feed(base.specs))
        if variables:
            env = EnvFeeder(prefix=env_prefix, environ=dict(variables), name="tenant-env")
            layers.extend(env.feed(base.specs))
    except ConfigError as exc:
        raise TenantConfigError(
            f"tenant {tenant!r}: {exc.message}", tenant=tenant, errors=exc.errors, source=exc.source
        ) from exc
    if data:
        layers.append(
            Layer.from_mapping(
                copy.deepcopy(dict(data)),
                name="tenant",
                location=f"tenant {tenant} (programmatic)",
            )
        )
    return layers


def build_snapshot(base: Base, tenant: str, own: Sequence[Layer]) -> ConfigSnapshot:
    """Validate base plus the tenant's own layers into the tenant's snapshot.

    Raises :class:`TenantConfigError` listing every invalid field, with its source.
    """
    from pymodular.config import Configuration

    configuration = Configuration(
        [_Replay(base)],
        validators=base.validators,
        strict=base.strict,
        secret_resolvers=base.resolvers,
        verbose=base.verbose,
    )
    try:
        return configuration.collect(
            base.specs,
            overlays=own,
            lookup_label=f"tenant {tenant!r}",
        )
    except ConfigError as exc:
        raise TenantConfigError(
            f"tenant {tenant!r}: {exc.message}", tenant=tenant, errors=exc.errors, source=exc.source
        ) from exc
