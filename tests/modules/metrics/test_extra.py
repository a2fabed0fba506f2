"""Without prometheus_client the metrics package still imports and registration names the extra."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
sys.modules["prometheus_client"] = None        # as if the extra were not installed
from pymodular import Application
from pymodular.errors import RegistrationError
from pymodular.modules.metrics import MetricsModule

try:
    Application([MetricsModule()])
except RegistrationError as exc:
    print(json.dumps({"message": str(exc), "extra": exc.__cause__.extra_name}))
"""


def test_the_metrics_module_without_its_extra_fails_registration_naming_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    outcome = json.loads(result.stdout)
    assert outcome["extra"] == "metrics"
    assert 'pip install "pymodular[metrics]"' in outcome["message"]
