"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer), for ``make fuzz``.

    python scripts/fuzz_atheris.py TARGET [libFuzzer options, e.g. -max_total_time=60]

Targets: ``jwt`` (the compact-token parser and verifier), ``yaml``, ``json``, ``toml``
(the configuration feeders' parsers), ``cron`` (the scheduler's expression parser).
Each input is decoded to text and handed to the parser; the classified error is the
only exception allowed, so anything else stops the run with the input that caused it
(saved by libFuzzer as ``crash-*``). Not part of ``make test``: hypothesis covers the
same surfaces there, bounded (tests/fuzz).
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["pymodular", "croniter", "yaml", "dotenv"]):
    from pymodular.config import ConfigModel, SectionSpec, field
    from pymodular.config.feeders import JsonFeeder, TomlFeeder, YamlFeeder
    from pymodular.errors import ConfigError, SecurityError
    from pymodular.modules.auth import JwtKey, JwtVerifier, KeyRing
    from pymodular.modules.scheduler import CronSchedule, ScheduleError


class _Store(ConfigModel):
    dsn: str = field("sqlite://", description="where")
    pool: int = field(1, description="connections")


_SPECS = [SectionSpec("store", _Store)]


def _text(data: bytes) -> str:
    return atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))


def _jwt() -> Callable[[bytes], None]:
    key = JwtKey.hmac("a secret of at least thirty-two bytes for HS256", kid="k", alg="HS256")
    verifier = JwtVerifier(KeyRing([key]), cache_size=0)

    def one(data: bytes) -> None:
        with contextlib.suppress(SecurityError):
            verifier.verify(_text(data))

    return one


def _feeder(kind: Any) -> Callable[[], Callable[[bytes], None]]:
    def make() -> Callable[[bytes], None]:
        feeder = kind("fuzzed")

        def one(data: bytes) -> None:
            with contextlib.suppress(ConfigError):
                feeder.parse(_text(data))

        return one

    return make


def _cron() -> Callable[[bytes], None]:
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Mars/Base", ""]

    def one(data: bytes) -> None:
        zone = zones[data[0] % len(zones)] if data else "UTC"  # the first byte picks a zone
        with contextlib.suppress(ScheduleError):
            schedule = CronSchedule(_text(data[1:]), zone)
            schedule.next_epoch(1_800_000_000.0)

    return one


TARGETS: dict[str, Callable[[], Callable[[bytes], None]]] = {
    "jwt": _jwt,
    "yaml": _feeder(YamlFeeder),
    "json": _feeder(JsonFeeder),
    "toml": _feeder(TomlFeeder),
    "cron": _cron,
}


def _b64(value: object) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Valid inputs to start from: past the JSON or cron syntax, coverage guidance finds the
# branches behind it far sooner than from an empty corpus.
SEEDS: dict[str, list[str]] = {
    "jwt": [
        f"{_b64({'alg': 'HS256', 'kid': 'k'})}.{_b64({'sub': 'u', 'exp': 2_000_000_000})}.c2ln",
        f"{_b64({'alg': 'none'})}.{_b64({'sub': 'u'})}.",
        f"{_b64({'alg': 'HS256', 'crit': ['b64'], 'b64': False})}.{_b64({})}.AA",
    ],
    "yaml": ["store:\n  dsn: x\n  pool: 2\n", "a: &a [1]\nstore: {pool: *a}\n", "store: !!int 1\n"],
    "json": ['{"store": {"dsn": "x", "pool": 2}}', '{"store": {"pool": 1e5, "x": [1, {}]}}'],
    "toml": ['[store]\ndsn = "x"\npool = 2\n', "[[store.list]]\na = 1979-05-27T07:32:00Z\n"],
    "cron": ["\x01*/5 1-3 * * mon-fri", "\x00 0 0 L * *", "\x02 0 30 2 * * 5#2", "\x03@daily"],
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options]")
    name = sys.argv.pop(1)
    corpus = Path("var/atheris") / name
    if not corpus.is_dir():
        corpus.mkdir(parents=True)
        for index, seed in enumerate(SEEDS[name]):
            (corpus / f"seed-{index}").write_text(seed, encoding="utf-8")
    if not any(not arg.startswith("-") for arg in sys.argv[1:]):
        sys.argv.append(str(corpus))  # libFuzzer reads and grows the corpus directory
    atheris.Setup(sys.argv, TARGETS[name]())
    atheris.Fuzz()


if __name__ == "__main__":
    main()
