"""``Configuration``: collect from feeders, validate, keep the current snapshot."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pymodular.config._feeder import Feeder, order_feeders
from pymodular.config._layer import Layer
from pymodular.config._merge import DEFAULT_MAX_DEPTH, merge_layers
from pymodular.config._problems import FieldError, raise_problems
from pymodular.config._provenance import FieldProvenance
from pymodular.config._references import (
    SecretResolver,
    parse_reference,
    resolve_references,
    resolver_map,
)
from pymodular.config._snapshot import ConfigSnapshot
from pymodular.config._spec import SectionSpec
from pymodular.config._validate import (
    AppValidator,
    register_secret_inputs,
    run_app_validators,
    unknown_keys,
    validate_sections,
    warn_unknown,
)
from pymodular.errors import ConfigError, error_text

__all__ = ("Configuration",)

logger = logging.getLogger("pymodular.config")


class Configuration:
    """An application's configuration: feeders in, validated snapshots out (``app.config``).

    :meth:`collect` re-reads every feeder, merges the layers (later or higher-priority
    feeders win; mappings deep-merge, lists replace), validates every section and the
    app-level ``validators``, and returns a :class:`ConfigSnapshot` without changing
    anything. :meth:`apply` makes a snapshot current; :meth:`load` does both. Every
    problem found is reported at once in a single :class:`~pymodular.errors.ConfigError`
    (a :class:`~pymodular.errors.ValidationError` when values are invalid), and a failed
    collect leaves the current snapshot in force.

    Unknown keys (no section declares them) are errors; ``strict=False`` turns them into
    logged warnings.
    ``provenance_sink`` receives a :class:`ProvenanceExport` on each apply (see
    :class:`JsonLinesProvenanceStore` for a retained store); its failures are logged.
    Values such as ``${env:DB_PASSWORD}`` are secret references, resolved by
    ``secret_resolvers`` (``env`` and ``file`` always exist; see
    :class:`SecretResolver`). ``verbose=True`` logs, after each collect, where every
    field was looked for and which source won (never a value).
    """

    def __init__(
        self,
        feeders: Sequence[Feeder] = (),
        *,
        validators: Sequence[AppValidator] = (),
        strict: bool = True,
        provenance_sink: Callable[..., None] | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        secret_resolvers: Sequence[SecretResolver] = (),
        verbose: bool = False,
    ) -> None:
        for feeder in feeders:
            if not isinstance(feeder, Feeder):
                raise TypeError(
                    f"{feeder!r} is not a Feeder: it needs name, required, priority and feed()"
                )
        self._feeders = tuple(feeders)
        self._validators = tuple(validators)
        self.strict = strict
        self.provenance_sink = provenance_sink
        self.max_depth = max_depth
        self._resolvers = resolver_map(secret_resolvers)
        self.verbose = verbose
        self._snapshot = ConfigSnapshot.empty()
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def feeders(self) -> tuple[Feeder, ...]:
        """The feeders, as given (see :func:`order_feeders` for application order)."""
        return self._feeders

    @property
    def secret_resolvers(self) -> tuple[SecretResolver, ...]:
        """Every secret resolver, ``env`` and ``file`` included (one per prefix)."""
        return tuple(self._resolvers.values())

    @property
    def validators(self) -> tuple[AppValidator, ...]:
        """The application-level validators run after every section validated."""
        return self._validators

    def collect(
        self,
        specs: Sequence[SectionSpec],
        *,
        overlays: Sequence[Layer] = (),
        strict: bool | None = None,
        lookup_label: str | None = None,
    ) -> ConfigSnapshot:
        """Read, merge and validate everything; return a new snapshot, changing nothing.

        ``overlays`` are layers applied above every feeder, in order (a tenant's layer
        goes last: base -> instance -> tenant). ``strict`` overrides :attr:`strict` for
        this call. Raises one aggregated ``ConfigError``. With :attr:`verbose`, the
        lookups logged cover the overlays too, and ``lookup_label`` names whose
        configuration it is.
        """
        strict = self.strict if strict is None else strict
        by_name = _by_name(specs)
        specs = list(by_name.values())
        layers: list[Layer] = []
        skipped: list[tuple[str, str]] = []
        problems: list[FieldError] = []
        for feeder in order_feeders(self._feeders):
            for layer in self._feed(feeder, specs, problems):
                if layer.skipped is not None:
                    skipped.append((layer.name, layer.skipped))
                    logger.info("config feeder %s skipped: %s", layer.name, layer.skipped)
                else:
                    layers.append(layer)
        raise_problems(problems, validation=False)
        fed = tuple(layers)
        layers.extend(overlays)
        try:
            merged = merge_layers(layers, max_depth=self.max_depth)
        except ConfigError as exc:
            raise_problems([_feeder_problem(exc)], validation=False)
            raise  # pragma: no cover - raise_problems always raises here
        references, problems = resolve_references(merged, by_name, self._resolvers)
        raise_problems(problems, validation=False)
        register_secret_inputs(by_name, merged, ignore=parse_reference)
        sections, problems = validate_sections(specs, merged, env_prefix=self.env_prefix)
        for unknown in unknown_keys(by_name, merged):
            if strict:
                problems.append(unknown)
            else:
                warn_unknown(unknown)
        raise_problems(problems, validation=True)
        raise_problems(run_app_validators(self._validators, sections, merged), validation=True)
        logger.debug(
            "collected %d sections from %d layers (%d fields set, %d feeders skipped)",
            len(sections),
            len(layers),
            len(merged.history),
            len(skipped),
        )
        snapshot = ConfigSnapshot(
            sections,
            by_name,
            merged.history,
            skipped=tuple(skipped),
            layers=fed,
            references=references,
        )
        if self.verbose:
            from pymodular.config._lookup import log_lookups

            log_lookups(snapshot, layers=(*fed, *overlays), label=lookup_label)
        return snapshot

    def apply(self, snapshot: ConfigSnapshot) -> None:
        """Make ``snapshot`` current and export its provenance to the sink, if any."""
        with self._lock:
            self._snapshot = snapshot
            self._generation += 1
            generation = self._generation
        logger.debug("applied configuration generation %d", generation)
        if self.provenance_sink is not None:
            from pymodular.config._retention import ProvenanceExport

            export = ProvenanceExport(
                created_at=snapshot.created_at,
                generation=generation,
                rows=tuple(snapshot.provenance_table()),
                skipped=tuple({"feeder": f, "reason": r} for f, r in snapshot.skipped),
            )
            try:
                self.provenance_sink(export)
            except Exception as exc:  # noqa: BLE001 - a failing sink must not fail a load
                logger.warning("provenance sink failed: %s", error_text(exc))

    def load(self, specs: Sequence[SectionSpec]) -> ConfigSnapshot:
        """:meth:`collect` then :meth:`apply`; on error the previous snapshot stays."""
        snapshot = self.collect(specs)
        self.apply(snapshot)
        return snapshot

    @property
    def snapshot(self) -> ConfigSnapshot:
        """The current snapshot (empty before the first load)."""
        return self._snapshot

    @property
    def generation(self) -> int:
        """How many snapshots have been applied so far."""
        return self._generation

    def section(self, name: str) -> Any:
        """The current model of section ``name`` (a dict of models when instance-aware)."""
        return self._snapshot.section(name)

    def provenance(self, path: str) -> FieldProvenance:
        """Where the current value at ``path`` (``"database.dsn"``) came from."""
        return self._snapshot.provenance(path)

    def provenance_table(self) -> list[dict[str, Any]]:
        """Every current field's provenance, JSON-serialisable, secrets masked."""
        return self._snapshot.provenance_table()

    def __repr__(self) -> str:
        feeders = ", ".join(f.name for f in self._feeders)
        return (
            f"<Configuration(sections={len(self._snapshot.sections)}, "
            f"generation={self._generation}, feeders=[{feeders}])>"
        )

    def _feed(
        self, feeder: Feeder, specs: Sequence[SectionSpec], problems: list[FieldError]
    ) -> Sequence[Layer]:
        try:
            return feeder.feed(specs)
        except ConfigError as exc:
            fields = [e for e in exc.errors if isinstance(e, FieldError)]
            problems.extend(fields or [_feeder_problem(exc)])
        except Exception as exc:  # noqa: BLE001 - a broken third-party feeder is reported, not raised raw
            reason = f"feeder {feeder.name!r} failed: {error_text(exc)}"
            problems.append(FieldError("", reason, None, None, "feeder"))
        return ()

    @property
    def env_prefix(self) -> str | None:
        """The first feeder's environment prefix (used in "set it with" hints), if any."""
        for feeder in self._feeders:
            prefix = getattr(feeder, "env_prefix", None)
            if isinstance(prefix, str):
                return prefix
        return None


def _feeder_problem(exc: ConfigError) -> FieldError:
    return FieldError(exc.field or "", exc.message, exc.source, None, "feeder", module=exc.module)


def _by_name(specs: Sequence[SectionSpec]) -> dict[str, SectionSpec]:
    """``{name: spec}``; the same spec given twice counts once, two specs for one name fail."""
    seen: dict[str, SectionSpec] = {}
    for spec in specs:
        other = seen.get(spec.name)
        if other is not None and other != spec:
            raise ConfigError(
                f"section {spec.name!r} is declared twice "
                f"(modules {other.module!r} and {spec.module!r})",
                field=spec.name,
            )
        seen[spec.name] = spec
    return seen
