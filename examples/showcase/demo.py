"""Demo credentials for ``make run``: API keys and a JWT secret, made once, kept as files.

The keys go to ``<data>/keys/<id>.key`` (mode 0600) for curl to read; the configuration
(``<data>/demo.yaml``) holds only their SHA-256 digests and a ``${file:...}`` reference
to the JWT secret, so no key or secret is ever printed or written into configuration.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from pymodular.modules.auth import generate_api_key, hash_api_key

__all__ = ("DEMO_FILE", "DEMO_KEYS", "write_demo_credentials")

DEMO_FILE = "demo.yaml"
DEMO_KEYS: dict[str, dict[str, Any]] = {
    "acme-admin": {"tenant": "acme", "roles": ["admin"], "scopes": ["tasks:read", "tasks:write"]},
    "acme-reader": {"tenant": "acme", "roles": [], "scopes": ["tasks:read"]},
    "globex-admin": {
        "tenant": "globex",
        "roles": ["admin"],
        "scopes": ["tasks:read", "tasks:write"],
    },
}
"""Key id -> what the key may do; each acts for one tenant."""


def _private_file(path: Path, make: Any) -> str:
    """The file's text, writing ``make()`` into it (owner-only) when it does not exist."""
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(make() + "\n")
    return path.read_text(encoding="utf-8").strip()


def write_demo_credentials(data: Path) -> Path:
    """Make the data directory, the keys and the JWT secret if missing; (re)write demo.yaml."""
    keys = data / "keys"
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    api_keys = []
    for key_id, grants in DEMO_KEYS.items():
        key = _private_file(keys / f"{key_id}.key", generate_api_key)
        api_keys.append({"id": key_id, "hash": hash_api_key(key), **grants})
    secret_file = (keys / "jwt.secret").resolve()
    _private_file(secret_file, lambda: secrets.token_urlsafe(48))
    config = {
        "auth": {
            "jwt": {"keys": [{"kid": "demo-1", "secret": f"${{file:{secret_file}}}"}]},
            "api_keys": {"keys": api_keys},
        }
    }
    target = data / DEMO_FILE
    temporary = target.with_name(f".{DEMO_FILE}.{os.getpid()}")
    temporary.write_text(
        "# Written by python -m examples.showcase from the files in keys/; do not edit.\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )
    os.replace(temporary, target)  # replicas starting together never read half a file
    return target
