"""The core imports no optional dependency: a core-only app runs on the standard library."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import asyncio, json, sys
before = set(sys.modules)
from pymodular import Application, Dependency, Module, Service
from pymodular.testing import CallLog, FakeModule

class Clock:
    pass

async def main():
    modules = [FakeModule(f"m{i}", depends_on=[f"m{i - 1}"] if i else []) for i in range(10)]
    modules[0] = FakeModule("m0", provides=[Service("clock", Clock(), interface=Clock)])
    app = Application(modules)
    await app.start()
    app.inspect()
    await app.stop()

asyncio.run(main())
print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))
"""


def test_a_core_only_app_imports_nothing_but_pymodular_and_the_standard_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout))
    third_party = {m for m in loaded if m not in sys.stdlib_module_names}
    assert third_party == {"pymodular"}
