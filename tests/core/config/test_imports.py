"""Import cost: the config package pulls in only pydantic, PyYAML, python-dotenv and stdlib."""

from __future__ import annotations

import json
import subprocess
import sys

ALLOWED = {
    "pymodular",
    "pydantic",
    "pydantic_core",
    "typing_extensions",
    "typing_inspection",
    "annotated_types",
    "yaml",
    "_yaml",
    "cython_runtime",  # loaded by libyaml's compiled binding
    "dotenv",
}

PROBE = """
import json, sys
before = set(sys.modules)
import pymodular.config, pymodular.config.feeders
print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))
"""


def test_importing_config_loads_no_optional_dependency() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout))
    third_party = {m for m in loaded if m not in sys.stdlib_module_names and not m.startswith("_")}
    assert third_party <= ALLOWED, sorted(third_party - ALLOWED)
    assert "tomli_w" not in loaded
