"""Classifying API changes as breaking or additive, from real code (FR-050)."""

from __future__ import annotations

import pytest

from pymodular.contract import Impact, required_bump
from tests.core.contract.conftest import Versions, kinds

BASE = """
def connect(host: str, port: int = 5432, *, timeout: float = 5.0) -> str:
    return host
"""


def test_identical_code_has_no_changes(versions: Versions) -> None:
    diff = versions(BASE, BASE)
    assert diff.changes == ()
    assert diff.verdict is Impact.NONE


def test_docstrings_and_bodies_are_not_api(versions: Versions) -> None:
    new = '''
def connect(host: str, port: int = 5432, *, timeout: float = 5.0) -> str:
    """Now documented."""
    return host.upper()
'''
    assert versions(BASE, new).verdict is Impact.NONE


def test_removed_function_is_breaking(versions: Versions) -> None:
    diff = versions(BASE + "def ping() -> None: ...\n", BASE)
    assert kinds(diff) == {("breaking", "removed", "acmelib.ping")}
    assert diff.verdict is Impact.BREAKING


def test_added_function_is_additive(versions: Versions) -> None:
    diff = versions(BASE, BASE + "def ping() -> None: ...\n")
    assert kinds(diff) == {("additive", "added", "acmelib.ping")}
    assert diff.verdict is Impact.ADDITIVE


@pytest.mark.parametrize(
    ("new_signature", "expected"),
    [
        (
            "host: str, port: int = 5432, *, timeout: float = 5.0, retries: int = 3",
            {("additive", "parameter-added", "acmelib.connect(retries)")},
        ),
        (
            "host: str, port: int = 5432, *, timeout: float = 5.0, user: str",
            {("breaking", "parameter-added", "acmelib.connect(user)")},
        ),
        (
            "host: str, *, timeout: float = 5.0",
            {("breaking", "parameter-removed", "acmelib.connect(port)")},
        ),
        (
            "host: str, port: int = 5432, **options: object",
            # timeout may still be passed by keyword, so only the new **options shows
            {("additive", "parameter-added", "acmelib.connect(options)")},
        ),
        (
            "host: str, *, port: int = 5432, timeout: float = 5.0",
            {("breaking", "parameter-kind", "acmelib.connect(port)")},
        ),
        (
            "host: str, port: int = 5432, timeout: float = 5.0",
            {("additive", "parameter-kind", "acmelib.connect(timeout)")},
        ),
        (
            "port: int = 5432, host: str = 'localhost', *, timeout: float = 5.0",
            {
                ("breaking", "parameter-moved", "acmelib.connect(port)"),
                ("breaking", "parameter-moved", "acmelib.connect(host)"),
                ("additive", "parameter-optional", "acmelib.connect(host)"),
            },
        ),
        (
            "host: str, port: int, *, timeout: float = 5.0",
            {("breaking", "parameter-required", "acmelib.connect(port)")},
        ),
        (
            "host: str, port: int = 6432, *, timeout: float = 5.0",
            {("additive", "default-changed", "acmelib.connect(port)")},
        ),
        (
            "host: str, port: str = '5432', *, timeout: float = 5.0",
            {
                ("breaking", "type-changed", "acmelib.connect(port)"),
                ("additive", "default-changed", "acmelib.connect(port)"),
            },
        ),
    ],
    ids=[
        "optional-added",
        "required-added",
        "removed",
        "absorbed-by-kwargs",
        "made-keyword-only",
        "made-positional",
        "reordered",
        "default-removed",
        "default-changed",
        "type-changed",
    ],
)
def test_parameter_changes(
    versions: Versions, new_signature: str, expected: set[tuple[str, str, str]]
) -> None:
    new = f"def connect({new_signature}) -> str:\n    return 'x'\n"
    assert kinds(versions(BASE, new)) == expected


def test_return_type_change_is_breaking(versions: Versions) -> None:
    new = "def connect(host: str, port: int = 5432, *, timeout: float = 5.0) -> bytes: ...\n"
    assert kinds(versions(BASE, new)) == {("breaking", "return-changed", "acmelib.connect")}


def test_becoming_async_is_breaking(versions: Versions) -> None:
    new = "async def connect(host: str, port: int = 5432, *, timeout: float = 5.0) -> str: ...\n"
    assert kinds(versions(BASE, new)) == {("breaking", "async-changed", "acmelib.connect")}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Optional[int]", "int | None"),
        ("Union[int, str]", "int | str"),
        ("List[str]", "list[str]"),
        ("Dict[str, Optional[int]]", "dict[str, int | None]"),
        ("'Thing'", "Thing"),
        ("typing.Sequence[Thing]", "Sequence[Thing]"),
    ],
)
def test_annotation_spelling_is_not_a_change(versions: Versions, old: str, new: str) -> None:
    header = (
        "from __future__ import annotations\n"
        "import typing\nfrom typing import Dict, List, Optional, Sequence, Union\n"
        "class Thing: ...\n"
    )
    diff = versions(
        header + f"def f(x: {old}) -> None: ...\n", header + f"def f(x: {new}) -> None: ...\n"
    )
    assert diff.changes == ()


def test_evaluated_and_string_annotations_compare_equal(versions: Versions) -> None:
    old = "from typing import Optional\ndef f(x: Optional[int]) -> list[str]: ...\n"
    new = "from __future__ import annotations\ndef f(x: int | None) -> list[str]: ...\n"
    assert versions(old, new).changes == ()


CLASS = """
import abc
import enum
from typing import Protocol


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


class Reader(Protocol):
    def read(self) -> bytes: ...


class Base(abc.ABC):
    @abc.abstractmethod
    def run(self) -> None: ...


class Client(Base):
    timeout: float = 1.0

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self) -> None: ...

    def get(self, path: str) -> bytes:
        return b""

    @property
    def closed(self) -> bool:
        return False

    @closed.setter
    def closed(self, value: bool) -> None: ...

    @classmethod
    def from_env(cls) -> "Client":
        return cls("x")
"""


def _edit(old: str, new: str) -> str:
    assert old in CLASS
    return CLASS.replace(old, new)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '    def get(self, path: str) -> bytes:\n        return b""\n',
            "",
            {("breaking", "removed", "acmelib.Client.get")},
        ),
        (
            "    def run(self) -> None: ...\n\n    def get",
            "    def run(self) -> None: ...\n\n    def head(self) -> None: ...\n\n    def get",
            {("additive", "added", "acmelib.Client.head")},
        ),
        (
            "    def read(self) -> bytes: ...\n",
            "    def read(self) -> bytes: ...\n    def close(self) -> None: ...\n",
            {("breaking", "protocol-member-added", "acmelib.Reader.close")},
        ),
        (
            "    def run(self) -> None: ...\n\n\nclass Client",
            "    def run(self) -> None: ...\n\n    @abc.abstractmethod\n"
            "    def stop(self) -> None: ...\n\n\nclass Client",
            {
                ("breaking", "abstract-added", "acmelib.Base.stop"),
                ("additive", "added", "acmelib.Base.stop"),
                ("additive", "added", "acmelib.Client.stop"),
                ("breaking", "abstract-added", "acmelib.Client.stop"),
            },
        ),
        (
            "class Client(Base):",
            "class Client:",
            {("breaking", "base-removed", "acmelib.Client")},
        ),
        (
            "    def __init__(self, url: str) -> None:",
            "    def __init__(self, url: str, *, token: str) -> None:",
            {("breaking", "parameter-added", "acmelib.Client()(token)")},
        ),
        (
            "    @closed.setter\n    def closed(self, value: bool) -> None: ...\n",
            "",
            {("breaking", "read-only", "acmelib.Client.closed")},
        ),
        (
            '    SAFE = "safe"\n',
            "",
            {("breaking", "removed", "acmelib.Mode.SAFE")},
        ),
        (
            '    SAFE = "safe"\n',
            '    SAFE = "safe"\n    EXACT = "exact"\n',
            {("additive", "added", "acmelib.Mode.EXACT")},
        ),
        (
            '    SAFE = "safe"\n',
            '    SAFE = "careful"\n',
            {("breaking", "value-changed", "acmelib.Mode.SAFE")},
        ),
        (
            "    timeout: float = 1.0\n",
            "    timeout: int = 1\n",
            {("breaking", "type-changed", "acmelib.Client.timeout")},
        ),
        (
            "    @classmethod\n    def from_env",
            "    @staticmethod\n    def from_env",
            {("breaking", "binding-changed", "acmelib.Client.from_env")},
        ),
    ],
    ids=[
        "method-removed",
        "method-added",
        "protocol-grew",
        "abstract-added",
        "base-removed",
        "constructor-required-parameter",
        "property-read-only",
        "enum-member-removed",
        "enum-member-added",
        "enum-value-changed",
        "attribute-type-changed",
        "classmethod-to-staticmethod",
    ],
)
def test_class_changes(
    versions: Versions, old: str, new: str, expected: set[tuple[str, str, str]]
) -> None:
    changed = {k for k in kinds(versions(CLASS, _edit(old, new))) if k[1] != "parameter-removed"}
    assert changed == expected


CONFIG = """
from pymodular import Module
from pymodular.config import ConfigModel, Secret, field


class CacheConfig(ConfigModel):
    url: str = field("redis://127.0.0.1:6379", description="Where Redis is")
    ttl: int = field(60, description="Seconds", dynamic=True)
    password: Secret[str] | None = field(None, description="Password")


class CacheModule(Module[CacheConfig]):
    name = "cache"
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '    ttl: int = field(60, description="Seconds", dynamic=True)\n',
            "",
            {"field-removed"},
        ),
        (
            '    ttl: int = field(60, description="Seconds", dynamic=True)\n',
            '    ttl: int = field(60, description="Seconds", dynamic=True)\n'
            '    region: str = field(description="Where")\n',
            {"field-added:breaking"},
        ),
        (
            '    ttl: int = field(60, description="Seconds", dynamic=True)\n',
            '    ttl: int = field(60, description="Seconds", dynamic=True)\n'
            '    region: str = field("eu", description="Where")\n',
            {"field-added:additive"},
        ),
        (
            'field(60, description="Seconds", dynamic=True)',
            'field(60, description="Seconds")',
            {"field-static"},
        ),
        (
            'field(60, description="Seconds", dynamic=True)',
            'field(90, description="Seconds, longer now", dynamic=True)',
            {"default-changed"},
        ),
        (
            'ttl: int = field(60, description="Seconds", dynamic=True)',
            'ttl: float = field(60.0, description="Seconds", dynamic=True)',
            {"field-type", "default-changed"},
        ),
        (
            'url: str = field("redis://127.0.0.1:6379", description="Where Redis is")',
            'url: str = field(description="Where Redis is")',
            {"field-required"},
        ),
        ('    name = "cache"', '    name = "kv"', {"name-changed", "config-section-changed"}),
        (
            '    name = "cache"',
            '    name = "cache"\n    depends_on = ("database",)',
            {"dependency-added", "added"},  # and the class attribute itself
        ),
    ],
    ids=[
        "field-removed",
        "required-field-added",
        "optional-field-added",
        "no-longer-dynamic",
        "default-changed",
        "type-changed",
        "became-required",
        "module-renamed",
        "new-module-dependency",
    ],
)
def test_config_and_module_changes(
    versions: Versions, old: str, new: str, expected: set[str]
) -> None:
    assert old in CONFIG
    diff = versions(CONFIG, CONFIG.replace(old, new))
    found = set()
    for change in diff.changes:
        if change.kind == "field-added":
            found.add(f"field-added:{change.impact.value}")
        else:
            found.add(change.kind)
    assert found == expected
    breaking = {
        "field-removed",
        "field-added:breaking",
        "field-static",
        "field-type",
        "field-required",
        "name-changed",
        "config-section-changed",
        "dependency-added",
    }
    assert (diff.verdict is Impact.BREAKING) == bool(expected & breaking)


def test_config_fields_appear_in_the_contract_with_secrets_masked(contract_of) -> None:  # type: ignore[no-untyped-def]
    source = CONFIG.replace(
        'None, description="Password"', '"p4ssw0rd-default", description="Password"'
    )
    source = source.replace("Secret[str] | None", "Secret[str]")
    contract = contract_of(source)
    fields = contract["modules"]["acmelib"]["names"]["CacheConfig"]["config_fields"]
    assert fields["ttl"] == {
        "type": "int",
        "required": False,
        "default": "60",
        "dynamic": True,
        "secret": False,
    }
    assert fields["password"]["secret"] is True
    assert "p4ssw0rd-default" not in str(contract)


@pytest.mark.parametrize(
    ("verdict", "old_version", "bump"),
    [
        ("breaking", "1.4.2", "major"),
        ("additive", "1.4.2", "minor"),
        ("none", "1.4.2", "patch"),
        ("breaking", "0.4.2", "minor"),
        ("additive", "0.4.2", "patch"),
        ("none", "0.4.2", "patch"),
    ],
)
def test_required_bump_follows_semver(verdict: str, old_version: str, bump: str) -> None:
    assert required_bump(verdict, old_version) == bump
