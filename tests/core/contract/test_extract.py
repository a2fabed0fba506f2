"""What a contract holds: public modules, exported names, signatures; and what it leaves out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import pymodular
from pymodular.contract import (
    SCHEMA,
    ContractFormatError,
    ContractImportError,
    Impact,
    compare,
    extract,
    load,
    render,
)
from tests.core.contract.conftest import Contract

PACKAGE_FILES = {
    "__init__.py": """
        from acmelib._impl import Client, connect
        from acmelib import tools

        __all__ = ("Client", "connect", "tools", "LIMIT")
        LIMIT = 10
        """,
    "_impl.py": """
        class Client:
            def get(self, path: str, /, *, retries: int = 2) -> bytes:
                return b""

            def _private(self) -> None: ...

            def __enter__(self) -> "Client":
                return self

        def connect(*hosts: str, **options: int) -> Client:
            return Client()
        """,
    "tools.py": """
        def helper() -> None: ...
        def _hidden() -> None: ...
        class _Internal: ...
        """,
    "_private_mod.py": "def secret_tool() -> None: ...\n",
    "tests/__init__.py": "raise RuntimeError('tests are never imported')\n",
}


def test_contract_lists_public_modules_and_exported_names(contract_of: Contract) -> None:
    contract = contract_of(PACKAGE_FILES, version="2.3.4")
    assert contract["schema"] == SCHEMA
    assert contract["package"] == "acmelib"
    assert contract["version"] == "2.3.4"
    assert contract["generator"] == f"pymodular {pymodular.__version__}"
    assert set(contract["modules"]) == {"acmelib", "acmelib.tools"}
    root = contract["modules"]["acmelib"]["names"]
    assert set(root) == {"Client", "connect", "tools", "LIMIT"}
    assert root["tools"] == {"kind": "module", "target": "acmelib.tools"}
    assert root["LIMIT"] == {"kind": "variable", "type": "int", "value": "10"}
    assert set(contract["modules"]["acmelib.tools"]["names"]) == {"helper"}


def test_signatures_keep_kinds_defaults_and_annotations(contract_of: Contract) -> None:
    names = contract_of(PACKAGE_FILES)["modules"]["acmelib"]["names"]
    assert names["connect"]["signature"] == "(*hosts: str, **options: int) -> Client"
    get = names["Client"]["members"]["get"]
    assert get["signature"] == "(self, path: str, /, *, retries: int = 2) -> bytes"
    assert [p["kind"] for p in get["parameters"]] == [
        "positional_only",
        "positional_only",
        "keyword_only",
    ]
    assert set(names["Client"]["members"]) == {"get", "__enter__"}


def test_private_names_and_modules_are_included_on_request(contract_of: Contract) -> None:
    contract = contract_of(PACKAGE_FILES, include_private=True)
    assert "acmelib._private_mod" in contract["modules"]
    assert "_hidden" in contract["modules"]["acmelib.tools"]["names"]


def test_excluded_modules_are_skipped(contract_of: Contract) -> None:
    assert "acmelib.tools" not in contract_of(PACKAGE_FILES, exclude=["acmelib.tool*"])["modules"]


def test_a_submodule_failing_to_import_is_named(contract_of: Contract) -> None:
    files = {**PACKAGE_FILES, "broken.py": "import not_installed_anywhere\n"}
    with pytest.raises(ContractImportError, match="'acmelib.broken'.*--exclude") as raised:
        contract_of(files)
    assert raised.value.module == "acmelib.broken"
    assert "acmelib.broken" not in contract_of(files, exclude=["acmelib.broken"])["modules"]


def test_a_missing_package_is_an_import_error() -> None:
    with pytest.raises(ContractImportError, match="no_such_package_xyz"):
        extract("no_such_package_xyz")


def test_all_naming_a_missing_attribute_is_recorded(contract_of: Contract) -> None:
    contract = contract_of('__all__ = ("ghost",)\n')
    assert contract["modules"]["acmelib"]["names"]["ghost"] == {"kind": "missing"}


def test_pymodular_extracts_and_matches_itself() -> None:
    contract = extract("pymodular")
    names = contract["modules"]["pymodular"]["names"]
    assert names["Application"]["kind"] == "class"
    assert "run" in names["Application"]["members"]
    assert "pymodular.config" in contract["modules"]
    assert not any(name.split(".")[-1].startswith("_") for name in contract["modules"])
    assert compare(contract, json.loads(json.dumps(contract))).verdict is Impact.NONE


def test_contract_round_trips_through_a_file(contract_of: Contract, tmp_path: Path) -> None:
    contract = contract_of(PACKAGE_FILES)
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(contract))
    assert load(path) == contract


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "is not a pymodular API contract"),
        ('{"schema": "other/1"}', "schema 'other/1'"),
        (json.dumps({"schema": SCHEMA, "modules": []}), "damaged contract"),
        (json.dumps({"schema": SCHEMA, "modules": {"x": {"names": 3}}}), "damaged contract"),
    ],
)
def test_malformed_contract_files_are_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ContractFormatError, match=message):
        load(path)


def test_an_oversized_contract_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pymodular.contract._render._MAX_BYTES", 1024)
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"schema": SCHEMA, "modules": {}, "padding": "x" * 2048}))
    with pytest.raises(ContractFormatError, match="is larger than"):
        load(path)


def _diff(contract_of: Contract):  # type: ignore[no-untyped-def]
    old = contract_of("def a() -> None: ...\ndef b() -> None: ...\n", version="1.0.0")
    new = contract_of("def a(x: int) -> None: ...\ndef c() -> None: ...\n", version="2.0.0")
    return compare(old, new)


def test_text_report_has_a_verdict_line_and_one_line_per_change(contract_of: Contract) -> None:
    text = render(_diff(contract_of), "text")
    lines = text.splitlines()
    assert lines[0] == (
        "acmelib 1.0.0 -> 2.0.0: breaking (2 breaking, 1 additive); needs at least a major release"
    )
    assert "  BREAKING  function acmelib.b was removed" in lines
    assert "  BREAKING  acmelib.a: new required parameter 'x'" in lines
    assert "  additive  new function acmelib.c" in lines


def test_markdown_report_groups_changes(contract_of: Contract) -> None:
    text = render(_diff(contract_of), "markdown")
    assert text.startswith("## API changes: acmelib 1.0.0 -> 2.0.0: breaking")
    assert "### Breaking (2)" in text
    assert "### Additive (1)" in text
    assert "- `acmelib.c`: new function acmelib.c" in text


def test_json_report_is_machine_readable(contract_of: Contract) -> None:
    data = json.loads(render(_diff(contract_of), "json"))
    assert data["verdict"] == "breaking"
    assert (data["breaking"], data["additive"]) == (2, 1)
    assert (data["required_bump"], data["actual_bump"]) == ("major", "major")
    assert {c["kind"] for c in data["changes"]} == {"removed", "parameter-added", "added"}


def test_yaml_report_is_the_json_data_and_unknown_formats_are_refused(
    contract_of: Contract,
) -> None:
    diff = _diff(contract_of)
    assert yaml.safe_load(render(diff, "yaml")) == json.loads(render(diff, "json"))
    assert render(diff, "table") == render(diff, "text")
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        render(diff, "xml")
