from __future__ import annotations

from pathlib import Path

import pytest

from tests.modules.httpserver.helpers import CertFactory, make_cert_factory


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertFactory:
    """Make (and cache) a self-signed certificate per name."""
    made: dict[str, tuple[Path, Path]] = {}
    factory = make_cert_factory(tmp_path_factory.mktemp("certs"))

    def get(name: str) -> tuple[Path, Path]:
        if name not in made:
            made[name] = factory(name)
        return made[name]

    return get
