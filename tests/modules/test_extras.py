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


SERVICE_TYPES = {
    "database": {
        "DATABASE_BACKENDS",
        "DEFAULT_CONNECTION",
        "Database",
        "DatabaseBackend",
        "ErrorKind",
        "MigrationState",
        "Migrations",
        "OnCommit",
        "Transaction",
        "TransactionScope",
        "current_transaction",
    },
    "httpclient": {"HttpClients"},
    "proxy": {"CompositePart", "ReverseProxy"},
    "httpserver": {
        "ASGIApp",
        "CertificateFiles",
        "CertificateProvider",
        "FileCertificateProvider",
        "HttpServer",
    },
}


@pytest.mark.parametrize("package", sorted(SERVICE_TYPES))
def test_a_bundled_package_exports_its_module_config_errors_and_service_types(
    package: str,
) -> None:
    import importlib

    from pymodular import Module
    from pymodular.config import ConfigModel

    exported = importlib.import_module(f"pymodular.modules.{package}")
    kinds: dict[str, set[str]] = {"module": set(), "config": set(), "error": set(), "other": set()}
    for name in exported.__all__:
        value = getattr(exported, name)
        if isinstance(value, type) and issubclass(value, Module):
            kinds["module"].add(name)
        elif isinstance(value, type) and issubclass(value, ConfigModel):
            kinds["config"].add(name)
        elif isinstance(value, type) and issubclass(value, Exception):
            kinds["error"].add(name)
        else:
            kinds["other"].add(name)
    assert len(kinds["module"]) == 1
    assert kinds["config"]
    assert kinds["error"]
    assert kinds["other"] == SERVICE_TYPES[package]  # nothing that exists for tests
