"""FR-049: secret values fed through every feeder never show in anything observable.

Each feeder carries its own known secret value. After loading, reloading with changed
secrets and failing a load on purpose, everything a user or operator can see is
collected (DEBUG logs, errors, provenance, reprs, diffs, samples, descriptions, JSON)
and scanned: zero hits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import field_validator

from pymodular.config import (
    ConfigModel,
    Configuration,
    Layer,
    ProvenanceExport,
    Secret,
    SectionSpec,
    describe_fields,
    diff,
    field,
    generate_sample,
)
from pymodular.config.feeders import (
    DictFeeder,
    DirectoryFeeder,
    DotEnvFeeder,
    EnvFeeder,
    Feeder,
    JsonFeeder,
    TomlFeeder,
    YamlFeeder,
)
from pymodular.errors import ConfigError

SECRETS = {
    "yaml": "yaml-secret-Aq1",
    "toml": "toml-secret-Bw2",
    "json": "json-secret-Ce3",
    "dotenv": "dotenv-secret-Dr4",
    "env": "env-secret-Et5",
    "file": "file-secret-Fy6",
    "dict": "dict-secret-Gu7",
    "directory": "dir-secret-Hi8",
    "instance": "instance-secret-Jo9",
    "overlay": "tenant-secret-Kp0",
    "default": "default-secret-Lz1",
}
ROTATED = {key: value.replace("secret", "rotated") for key, value in SECRETS.items()}


class Credentials(ConfigModel):
    from_yaml: Secret[str] = field(Secret(""), description="fed by YAML")
    from_toml: Secret[str] = field(Secret(""))
    from_json: str = field("", secret=True, dynamic=True)
    from_dotenv: Secret[str] = field(Secret(""))
    from_env: str = field("", secret=True)
    from_file: Secret[bytes] = field(Secret(b""))
    from_dict: Secret[str] = field(Secret(""))
    from_directory: str = field("", secret=True)
    from_overlay: Secret[str] = field(Secret(""))
    with_default: Secret[str] = field(Secret(SECRETS["default"]))
    dsn: str = field("", description="Contains the YAML secret as its password")
    pin: Secret[int] = field(Secret(0))

    @field_validator("from_env")
    @classmethod
    def not_weak(cls, value: str) -> str:
        if value.startswith("weak"):
            raise ValueError(f"{value} is too weak")  # echoes the value on purpose
        return value


class Connection(ConfigModel):
    dsn: str = ""
    password: Secret[str] = field(Secret(""))


SPECS = [
    SectionSpec("creds", Credentials, module="creds"),
    SectionSpec("db", Connection, instance_aware=True, env_prefix="DB"),
]


def write_sources(root: Path, values: dict[str, str]) -> tuple[list[Feeder], dict[str, str], Layer]:
    (root / "c.yaml").write_text(
        f"creds:\n  from_yaml: {values['yaml']}\n  dsn: postgres://app:{values['yaml']}@db/app\n",
        encoding="utf-8",
    )
    (root / "c.toml").write_text(f'[creds]\nfrom_toml = "{values["toml"]}"\n', encoding="utf-8")
    (root / "c.json").write_text(
        json.dumps({"creds": {"from_json": values["json"]}}), encoding="utf-8"
    )
    (root / ".env").write_text(f"CREDS__FROM_DOTENV={values['dotenv']}\n", encoding="utf-8")
    (root / "secret.txt").write_text(values["file"] + "\n", encoding="utf-8")
    (root / "base").mkdir(exist_ok=True)
    (root / "base" / "default.yaml").write_text(
        f"creds:\n  from_directory: {values['directory']}\n", encoding="utf-8"
    )
    environ = {
        "APP_CREDS__FROM_ENV": values["env"],
        "APP_CREDS__FROM_FILE_FILE": str(root / "secret.txt"),
        "APP_DB_PRIMARY_PASSWORD": values["instance"],
        "APP_DB_PRIMARY_DSN": f"postgres://u:{values['instance']}@primary/db",
    }
    feeders: list[Feeder] = [
        DirectoryFeeder(root, environ={}),
        YamlFeeder(root / "c.yaml"),
        TomlFeeder(root / "c.toml"),
        JsonFeeder(root / "c.json"),
        DotEnvFeeder(root / ".env"),
        EnvFeeder(prefix="APP_", environ=environ),
        DictFeeder({"creds": {"from_dict": values["dict"]}}),
    ]
    overlay = Layer.from_mapping({"creds": {"from_overlay": values["overlay"]}}, name="tenant")
    return feeders, environ, overlay


def texts_of(value: Any) -> Iterator[str]:
    yield repr(value)
    yield str(value)


@pytest.fixture
def observed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    exports: list[ProvenanceExport] = []
    feeders, environ, overlay = write_sources(tmp_path, SECRETS)
    config = Configuration(feeders, provenance_sink=exports.append)
    first = config.collect(SPECS, overlays=[overlay])
    config.apply(first)

    creds = config.section("creds")
    assert creds.from_yaml.reveal() == SECRETS["yaml"]  # the values did arrive
    assert creds.from_file.reveal() == SECRETS["file"].encode()
    assert creds.from_env == SECRETS["env"]
    assert creds.from_directory == SECRETS["directory"]
    assert config.section("db")["primary"].password.reveal() == SECRETS["instance"]

    outputs += [*texts_of(first), *texts_of(creds), *texts_of(config.section("db"))]
    outputs.append(creds.model_dump_json())
    outputs.append(json.dumps(creds.model_dump(mode="json")))
    outputs.append(json.dumps(config.provenance_table()))
    outputs += [repr(r) for r in first.provenance_records()]
    outputs += [json.dumps(e.as_dict()) for e in exports]
    outputs.append(repr(config.provenance("creds.dsn")))

    rotated_feeders, _, rotated_overlay = write_sources(tmp_path, ROTATED)
    second = Configuration(rotated_feeders).collect(SPECS, overlays=[rotated_overlay])
    changes = diff(first, second)
    assert changes.has("creds.from_yaml")
    assert changes.has("creds.from_overlay")
    outputs += [repr(changes), json.dumps(changes.as_dict()), *(repr(c) for c in changes)]

    for fmt in ("yaml", "toml", "json"):
        outputs.append(generate_sample(SPECS, fmt))  # type: ignore[arg-type]
    outputs.append(json.dumps([i.as_dict() for i in describe_fields(SPECS)]))
    outputs += [repr(i) for i in describe_fields(SPECS)]

    environ["APP_CREDS__FROM_ENV"] = "weak-" + SECRETS["env"]
    environ["APP_CREDS__PIN"] = SECRETS["env"]  # not an int: the error must not quote it
    environ["APP_CREDS__DSN"] = f"postgres://x:{SECRETS['yaml']}@db"  # derived, not secret
    with pytest.raises(ConfigError) as caught:
        config.collect(SPECS, overlays=[overlay])
    outputs += [str(caught.value), repr(caught.value), repr(caught.value.errors)]
    outputs += [json.dumps([e.as_dict() for e in caught.value.errors])]
    outputs.append(json.dumps(caught.value.context(), default=str))
    assert config.snapshot is first  # the failed collect changed nothing

    outputs += [r.getMessage() for r in caplog.records]
    outputs.append(caplog.text)
    return outputs


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_no_secret_value_is_observable(observed: list[str], name: str) -> None:
    for value in (SECRETS[name], ROTATED[name]):
        leaks = [text for text in observed if value in text]
        assert not leaks, f"{name} secret leaked in: {leaks[0][:300]}"


def test_the_scan_saw_the_places_secrets_would_leak(observed: list[str]) -> None:
    joined = "\n".join(observed)
    assert "creds.from_yaml" in joined  # provenance rows were scanned
    assert "postgres://app:**********@db/app" in joined  # derived values are redacted
    assert "creds.pin" in joined
    assert "creds.from_env" in joined
    assert "APP_CREDS__FROM_ENV" in joined  # DEBUG logs name variables
