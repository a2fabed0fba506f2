"""The jsonschema conformance suite: every scenario runs on every registered engine.

``make(**config)`` builds a :class:`JsonSchemaService` on the engine under test with the
given configuration; ``service`` is one with the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pymodular.modules.jsonschema import ENGINES, JsonSchemaConfig, JsonSchemaService

Make = Callable[..., JsonSchemaService]


@pytest.fixture(params=ENGINES.names())
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(engine: str) -> Make:
    def build(**config: Any) -> JsonSchemaService:
        fetch = config.pop("fetch", None)
        return JsonSchemaService(JsonSchemaConfig(engine=engine, **config), fetch=fetch)

    return build


@pytest.fixture
def service(make: Make) -> JsonSchemaService:
    return make()


def found(issues: Any) -> set[tuple[str, str]]:
    """``{(pointer, keyword), ...}`` of a list of issues."""
    return {(i.pointer, i.keyword) for i in issues}
