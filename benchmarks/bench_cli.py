"""The `pymodular` command's start-up: `pymodular --help` and `pymodular config check`.

Each sample is a fresh process (what a user waits for). Peer: `uvicorn --help`, another
click-based command from our dependency set. Floors: the bare interpreter, and
`import pymodular` (the core package every `pymodular.cli` import pays for).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from benchmarks._harness import Row, interleaved

BIN = Path(sys.executable).parent
REPEAT = 21
HELP_GOAL = 0.25
CHECK_GOAL = 0.6

APP = textwrap.dedent(
    """
    from pymodular import Application, Module
    from pymodular.config import ConfigModel, field
    from pymodular.config.feeders import DictFeeder

    class CacheConfig(ConfigModel):
        ttl: int = field(60, description="Seconds an entry lives")

    class Cache(Module[CacheConfig]):
        name = "cache"

    app = Application([Cache()], feeders=[DictFeeder({"cache": {"ttl": 30}})])
    """
)


def _spawn(args: list[str], cwd: str) -> None:
    subprocess.run(args, cwd=cwd, capture_output=True, check=True)


def run() -> list[Row]:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench_app.py").write_text(APP, encoding="utf-8")
        commands = {
            "interpreter": [python, "-c", "pass"],
            "core": [python, "-c", "import pymodular"],
            "help": [str(BIN / "pymodular"), "--help"],
            "peer": [str(BIN / "uvicorn"), "--help"],
            "check": [str(BIN / "pymodular"), "config", "check", "bench_app:app"],
        }
        # One fresh process of each command in turn, so machine noise hits all alike.
        found = interleaved(
            {name: functools.partial(_spawn, args, tmp) for name, args in commands.items()},
            repeat=REPEAT,
        )
    interpreter, ours, check = found["interpreter"], found["help"], found["check"]
    return [
        Row(
            target="CLI: `pymodular --help`, fresh process",
            ours=ours,
            goal=f"median < {HELP_GOAL * 1000:.0f} ms",
            met=ours.median < HELP_GOAL,
            peers={"uvicorn --help": found["peer"], "python -c 'import pymodular'": found["core"]},
            floor=("python -c pass", interpreter),
        ),
        Row(
            target="CLI: `pymodular config check` of a one-module app, fresh process",
            ours=check,
            goal=f"median < {CHECK_GOAL * 1000:.0f} ms",
            met=check.median < CHECK_GOAL,
            floor=("python -c pass", interpreter),
        ),
    ]
