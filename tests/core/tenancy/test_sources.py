"""Pure helpers: tenant ids, variable tokens, scanning directories and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymodular.tenancy import InvalidTenantIdError, check_tenant_id
from pymodular.tenancy._sources import env_token, scan_directories, scan_environment


@pytest.mark.parametrize("good", ["acme", "Acme-EU", "a", "t_1", "acme.eu", "0day", "x" * 64])
def test_plain_tokens_are_valid_tenant_ids(good: str) -> None:
    assert check_tenant_id(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", ".acme", "-acme", "acme.", "a/b", "a\\b", "a b", "x" * 65, "ümlaut", "a\x00", "acme\n"],
)
def test_anything_that_could_escape_a_path_or_variable_is_refused(bad: str) -> None:
    with pytest.raises(InvalidTenantIdError):
        check_tenant_id(bad)


@given(st.text(max_size=80))
def test_a_valid_id_never_contains_a_path_separator_or_whitespace(text: str) -> None:
    try:
        check_tenant_id(text)
    except InvalidTenantIdError:
        return
    assert "/" not in text
    assert "\\" not in text
    assert not any(ch.isspace() for ch in text)
    assert text not in (".", "..")


def test_env_tokens_upper_case_and_replace_punctuation() -> None:
    assert env_token("acme-eu.prod") == "ACME_EU_PROD"


def test_scan_environment_groups_variables_by_tenant_token() -> None:
    environ = {
        "TENANT_ACME_DATABASE__DSN": "a",
        "TENANT_ACME_CORP_DB_PRIMARY_DSN": "b",
        "TENANT_X_DATABASE_POOL": "c",
        "TENANT_NOSECTION": "d",
        "OTHER_ACME_DATABASE__DSN": "e",
    }
    found = scan_environment(environ, "TENANT_", ["DATABASE", "DB"])
    assert found == {
        "ACME": {"TENANT_ACME_DATABASE__DSN": "a"},
        "ACME_CORP": {"TENANT_ACME_CORP_DB_PRIMARY_DSN": "b"},
        "X": {"TENANT_X_DATABASE_POOL": "c"},
    }
    assert scan_environment(environ, "TENANT_", []) == {}


def test_scan_directories_lists_tenant_files_in_directory_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "acme.yaml").write_text("{}")
    (second / "acme.toml").write_text("")
    (second / "globex.JSON").write_text("{}")
    (second / "sub.yaml").mkdir()
    scan = scan_directories([first, second, tmp_path / "none"], required=True)
    assert scan.files == {
        "acme": [first / "acme.yaml", second / "acme.toml"],
        "globex": [second / "globex.JSON"],
    }
    assert len(scan.problems) == 2
    assert "not a regular file" in scan.problems[0]
    assert "does not exist" in scan.problems[1]
    only = scan_directories([first, second], required=True, only="globex")
    assert list(only.files) == ["globex"]
