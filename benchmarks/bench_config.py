"""Configuration load: 1000 fields from YAML plus 100 environment variables, with provenance.

Ours: ``Configuration([YamlFeeder, EnvFeeder]).load(specs)`` (collect, merge, validate,
provenance history, apply). Peer: pydantic-settings loading the same fields from the
same YAML file and the same environment. Floor: ``model_validate`` of the merged dict.
The three are sampled in turn (``interleaved``) so machine noise hits them alike.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, create_model

from benchmarks._harness import Row, interleaved
from pymodular.config import ConfigModel, Configuration, SectionSpec
from pymodular.config.feeders import EnvFeeder, YamlFeeder

SECTIONS = 10
FIELDS = 100  # per section: 1000 in all
ENV_VARS = 100
PREFIX = "BENCHCFG_"
_TYPES: tuple[tuple[type, Any], ...] = ((int, 7), (str, "text"), (bool, True), (float, 1.5))


def _field_type(j: int) -> tuple[type, Any]:
    return _TYPES[j % len(_TYPES)]


def _models(base: type[BaseModel]) -> list[type[BaseModel]]:
    models = []
    for i in range(SECTIONS):
        fields: dict[str, Any] = {f"f{j}": _field_type(j) for j in range(FIELDS)}
        models.append(create_model(f"Section{i}", __base__=base, **fields))
    return models


def _data() -> dict[str, dict[str, Any]]:
    return {f"s{i}": {f"f{j}": _field_type(j)[1] for j in range(FIELDS)} for i in range(SECTIONS)}


def _environment() -> dict[str, str]:
    env = {}
    for n in range(ENV_VARS):
        i, j = n % SECTIONS, (n * 7) % FIELDS
        kind = _field_type(j)[0]
        value = {int: "42", str: "from-env", bool: "false", float: "2.5"}[kind]
        env[f"{PREFIX}S{i}__F{j}"] = value
    return env


def _peer(path: Path) -> Any:
    from pydantic_settings import (
        BaseSettings,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
        YamlConfigSettingsSource,
    )

    models = _models(BaseModel)

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix=PREFIX, env_nested_delimiter="__", yaml_file=str(path), extra="ignore"
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (env_settings, YamlConfigSettingsSource(settings_cls))

    fields: dict[str, Any] = {f"s{i}": (models[i], ...) for i in range(SECTIONS)}
    return create_model("BenchSettings", __base__=Settings, **fields)


def run() -> list[Row]:
    data = _data()
    env = _environment()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        specs = [SectionSpec(f"s{i}", m) for i, m in enumerate(_models(ConfigModel))]
        config = Configuration([YamlFeeder(path), EnvFeeder(prefix=PREFIX)])
        peer = _peer(path)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            snapshot = config.load(specs)
            # Both sides really read the same YAML and environment (s0.f0 comes from env).
            assert snapshot.provenance("s0.f0").source.feeder == "env"
            assert snapshot.section("s0").f0 == peer().s0.f0 == 42
            assert snapshot.section("s9").f97 == peer().s9.f97 == "text"
            models = {s.name: s.model for s in specs}
            stats = interleaved(
                {
                    "ours": lambda: config.load(specs),
                    "peer": peer,
                    "floor": lambda: [models[k].model_validate(v) for k, v in data.items()],
                },
                repeat=41,
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    ours, theirs, floor = stats["ours"], stats["peer"], stats["floor"]
    ratio = ours.median / theirs.median
    print(
        f"config load: ours {ours.median * 1e3:.2f} ms, pydantic-settings "
        f"{theirs.median * 1e3:.2f} ms, ratio {ratio:.2f}"
    )
    return [
        Row(
            target="load+validate 1000 fields (YAML + 100 env, provenance)",
            ours=ours,
            goal="median < 50 ms and <= pydantic-settings",
            met=ours.median < 0.050 and ratio <= 1.0,
            peers={"pydantic-settings": theirs},
            floor=("model_validate(dict)", floor),
        )
    ]
