"""The Kubernetes example of docs/deployment.md agrees with the showcase's configuration.

The manifests are loaded, the container's file system is laid out in a temporary
directory from the ConfigMaps and the Secret at their mount paths, and the showcase's
configuration is collected from the container's environment exactly as `pymodular run`
would (no module starts): the probes must hit the paths the server serves on the port it
listens on, every secret must come from the mounted Secret, and the grace period must
cover the preStop delay and the application's drain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from examples.showcase import create_app
from examples.showcase.tasks import TasksConfig

from pymodular.cli._target import app_specs
from pymodular.secrets import forget_secret
from tests.e2e.showcase_process import ROOT

MANIFESTS = ROOT / "examples" / "showcase" / "deploy" / "kubernetes.yaml"


def _kinds() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(MANIFESTS.read_text())
    }


@pytest.fixture
def manifests() -> Iterator[dict[tuple[str, str], dict[str, Any]]]:
    kinds = _kinds()
    yield kinds
    for value in kinds["Secret", "showcase-secrets"]["stringData"].values():
        forget_secret(value)  # loading registered them; they must not mask other tests' text


def _container(manifests: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    (container,) = manifests["Deployment", "showcase"]["spec"]["template"]["spec"]["containers"]
    return container


def _lay_out(
    manifests: dict[tuple[str, str], dict[str, Any]], root: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Write the mounted ConfigMaps and Secret under ``root``; the container's environment
    (paths moved under ``root``) and the map of mount paths."""
    pod = manifests["Deployment", "showcase"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts: dict[str, str] = {}
    container = _container(manifests)
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        target = root / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True)
        if "configMap" in volume:
            files = manifests["ConfigMap", volume["configMap"]["name"]]["data"]
        else:
            files = manifests["Secret", volume["secret"]["secretName"]]["stringData"]
        for name, text in files.items():
            (target / name).write_text(text.replace("/run/", f"{root}/run/"))
        mounts[mount["mountPath"]] = mount["name"]
    env: dict[str, str] = {}
    for variable in container["env"]:
        value = variable.get("value", "pod-name")
        env[variable["name"]] = f"{root}{value}" if value.startswith("/") else value
    return env, mounts


def test_the_container_runs_pymodular_run_with_json_logs(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    command = _container(manifests)["command"]
    assert command[:3] == ["pymodular", "run", "examples.showcase:create_app"]
    assert command[3:] == ["--log-format", "json"]
    assert manifests["Deployment", "showcase"]["spec"]["replicas"] == 3


def test_probes_mounts_and_grace_period_agree_with_the_configuration(
    manifests: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    env, mounts = _lay_out(manifests, tmp_path)
    app = create_app(environ=env)
    config = app.config.collect(app_specs(app))
    server = config.section("httpserver")
    container = _container(manifests)
    pod = manifests["Deployment", "showcase"]["spec"]["template"]["spec"]
    secret = manifests["Secret", "showcase-secrets"]["stringData"]

    # the probes ask the server where it answers
    (port,) = container["ports"]
    assert (server.host, server.port) == ("0.0.0.0", port["containerPort"])
    assert container["livenessProbe"]["httpGet"] == {
        "path": server.health.liveness_path,
        "port": "http",
    }
    assert container["startupProbe"]["httpGet"] == {
        "path": server.health.liveness_path,
        "port": "http",
    }
    assert container["readinessProbe"]["httpGet"] == {
        "path": server.health.readiness_path,
        "port": "http",
    }

    # the YAML feeder reads the mounted ConfigMap; the tenants' directory is mounted
    assert Path(env["SHOWCASE_CONFIG"]).parent.as_posix().removeprefix(str(tmp_path)) in mounts
    assert mounts[env["SHOWCASE_TENANTS"].removeprefix(str(tmp_path))] == "tenants"
    for text in manifests["ConfigMap", "showcase-tenants"]["data"].values():
        TasksConfig.model_validate(yaml.safe_load(text)["tasks"])

    # every secret comes from the mounted Secret: *_FILE variables and ${file:...}
    secrets_mount = next(p for p, name in mounts.items() if name == "secrets")
    files = [v for k, v in env.items() if k.endswith("_FILE")]
    files += [
        f"{tmp_path}{m}"
        for m in re.findall(
            r"\$\{file:([^}]+)\}", manifests["ConfigMap", "showcase-config"]["data"]["config.yaml"]
        )
    ]
    assert files
    for path in files:
        assert Path(path).parent == tmp_path / secrets_mount.lstrip("/")
        assert Path(path).name in secret
    database = config.section("database")["default"]
    assert database.password.reveal() == secret["db-password"]
    assert config.section("auth").jwt.keys[0].secret.reveal() == secret["jwt-secret"]
    assert "change-me" not in str(config.provenance_table())

    # the grace period covers the preStop delay, the unready delay and the whole drain
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = app.drain_timeout
    assert pod["terminationGracePeriodSeconds"] >= sleep + server.shutdown_delay + drain
    assert server.shutdown_grace <= drain
    assert config.section("eventbus").grace_period <= drain
    assert config.section("scheduler").grace_period <= drain
    # readiness notices the drain within the unready delay
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= server.shutdown_delay


def test_the_guide_shows_these_manifests() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert MANIFESTS.read_text(encoding="utf-8").strip() in guide
