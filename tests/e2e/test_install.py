"""The install path of a user's own project: build, install into a fresh venv, scaffold, test.

What the README's "Use it in your project" section says, done outside this checkout:
``python -m build`` makes the sdist and, from it, the wheel; the wheel goes into a new
virtual environment; ``pymodular new app`` scaffolds a project there whose ``.[dev]``
install finds pymodular already installed, and whose own tests pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"

# Building (an isolated build environment) and two installs into a new venv take a few
# minutes on a busy two-core machine; nothing here waits on a fixed delay.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _env() -> dict[str, str]:
    """The environment without this suite's virtual environment or pytest settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PYMODULAR_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` output: the sdist and the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    return out


def _one(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found


def test_the_sdist_holds_the_sources_and_the_wheel_every_package_file(dist: Path) -> None:
    sdist, wheel = _one(dist, "pymodular-*.tar.gz"), _one(dist, "pymodular-*.whl")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    shipped = {
        path.relative_to(ROOT / "src").as_posix()
        for path in (ROOT / "src" / "pymodular").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {"README.md", "pyproject.toml"} <= in_sdist
    assert {f"src/{name}" for name in shipped} <= in_sdist
    assert shipped <= in_wheel  # templates, py.typed and the docs page's assets included


def test_a_fresh_venv_installs_the_wheel_scaffolds_an_app_and_its_tests_pass(
    dist: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, pymodular = venv / "bin" / "python", venv / "bin" / "pymodular"
    wheel = _one(dist, "pymodular-*.whl")
    pip = (python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS)
    _run(*pip, f"pymodular[cli] @ {wheel.as_uri()}", cwd=tmp_path)
    assert _run(pymodular, "--version", cwd=tmp_path).startswith("pymodular 0.")
    where = _run(python, "-c", "import pymodular; print(pymodular.__file__)", cwd=tmp_path)
    assert where.strip().startswith(str(venv))  # the installed copy, not this checkout
    _run(pymodular, "new", "app", "shop-demo", cwd=tmp_path)
    project = tmp_path / "shop-demo"
    # The app depends on pymodular[http]: pip finds it installed and adds the extras.
    _run(*pip, "--find-links", dist, "-e", ".[dev]", cwd=project)
    assert "5 passed" in _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    checked = _run(pymodular, "config", "check", "shop_demo", cwd=project)
    assert "configuration of shop_demo is valid" in checked
