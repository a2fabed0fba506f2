"""Every bundled module imports without its extra and says, at registration, what to install."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BLOCKED = (
    "starlette",
    "uvicorn",
    "httptools",
    "httpx",
    "h2",
    "sqlalchemy",
    "greenlet",
    "acme",
    "josepy",
    "cryptography",
)

PROBE = """
import json, sys
BLOCKED = {blocked}
for blocked in BLOCKED:
    sys.modules[blocked] = None            # as if the extra were not installed

from pymodular import Application
from pymodular.errors import MissingExtraError, RegistrationError
from pymodular.modules.{package} import {module}

outcome = {{}}
try:
    Application([{module}()])
except RegistrationError as exc:
    outcome = {{
        "message": str(exc),
        "cause": type(exc.__cause__).__name__,
        "extra": exc.__cause__.extra_name,
    }}
outcome["third_party"] = sorted(
    m for m in BLOCKED if sys.modules.get(m)
)
print(json.dumps(outcome))
"""


@pytest.mark.parametrize(
    ("package", "module", "extra", "missing"),
    [
        ("httpserver", "HttpServerModule", "http", "uvicorn, httptools"),
        ("router", "RouterModule", "http", "starlette"),
        ("httpclient", "HttpClientModule", "httpclient", "httpx"),
        ("database", "DatabaseModule", "database", "sqlalchemy, greenlet"),
        ("proxy", "ProxyModule", "http", "httptools, starlette"),
        ("acme", "AcmeModule", "acme", "acme, josepy, cryptography"),
    ],
)
def test_a_bundled_module_without_its_extra_fails_registration_naming_it(
    package: str, module: str, extra: str, missing: str
) -> None:
    probe = PROBE.format(package=package, module=module, blocked=BLOCKED)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    outcome = json.loads(result.stdout)
    assert outcome["cause"] == "MissingExtraError"
    assert outcome["extra"] == extra
    assert f"{module} needs {missing}" in outcome["message"]
    assert f'pip install "pymodular[{extra}]"' in outcome["message"]
    assert outcome["third_party"] == []
