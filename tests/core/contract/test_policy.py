"""The versioning policy check: SemVer bumps and announced removals (docs/versioning.md)."""

from __future__ import annotations

from pymodular.contract import Impact
from tests.core.contract.conftest import Versions

KEEP = "def keep() -> None: ...\n"
OLD_API = KEEP + "def old_api() -> None: ...\n"
DEPRECATED = (
    "from pymodular.deprecation import deprecated\n"
    + KEEP
    + '@deprecated(since="1.1.0", removed_in="1.3.0", alternative="acmelib.keep")\n'
    "def old_api() -> None: ...\n"
)


def test_additive_change_in_a_minor_release_follows_the_policy(versions: Versions) -> None:
    diff = versions(KEEP, OLD_API, old_version="1.0.0", new_version="1.1.0")
    assert diff.verdict is Impact.ADDITIVE
    assert diff.policy_violations() == []


def test_additive_change_in_a_patch_release_breaks_the_policy(versions: Versions) -> None:
    diff = versions(KEEP, OLD_API, old_version="1.0.0", new_version="1.0.1")
    assert diff.policy_violations() == [
        "the changes need a minor release, but 1.0.0 -> 1.0.1 is a patch bump"
    ]


def test_breaking_change_needs_a_major_release_after_1_0(versions: Versions) -> None:
    diff = versions(DEPRECATED, KEEP, old_version="1.2.0", new_version="1.3.0")
    assert diff.required_bump == "major"
    assert diff.policy_violations() == [
        "the changes need a major release, but 1.2.0 -> 1.3.0 is a minor bump"
    ]


def test_before_1_0_a_minor_release_may_remove_announced_api(versions: Versions) -> None:
    deprecated = DEPRECATED.replace('"1.1.0"', '"0.4.0"').replace('"1.3.0"', '"0.5.0"')
    diff = versions(deprecated, KEEP, old_version="0.4.2", new_version="0.5.0")
    assert diff.verdict is Impact.BREAKING
    assert diff.required_bump == "minor"
    assert diff.policy_violations() == []
    (removal,) = diff.changes
    assert removal.deprecated is not None
    assert "deprecated since 0.4.0, announced for removal in 0.5.0" in removal.message


def test_removal_without_a_deprecation_breaks_the_policy(versions: Versions) -> None:
    diff = versions(OLD_API, KEEP, old_version="0.4.2", new_version="0.5.0")
    assert diff.policy_violations() == ["acmelib.old_api was removed without a prior deprecation"]


def test_removal_before_the_announced_version_breaks_the_policy(versions: Versions) -> None:
    deprecated = DEPRECATED.replace('"1.1.0"', '"0.4.0"').replace('"1.3.0"', '"0.6.0"')
    diff = versions(deprecated, KEEP, old_version="0.4.2", new_version="0.5.0")
    assert diff.policy_violations() == [
        "acmelib.old_api was removed before 0.6.0, the version its deprecation announced"
    ]


def test_new_deprecation_is_reported_as_additive(versions: Versions) -> None:
    diff = versions(OLD_API, DEPRECATED, old_version="1.0.0", new_version="1.1.0")
    assert [(c.impact, c.kind, c.path) for c in diff.changes] == [
        (Impact.ADDITIVE, "deprecated", "acmelib.old_api")
    ]


def test_missing_versions_are_a_policy_problem(versions: Versions) -> None:
    diff = versions(KEEP, KEEP)
    object.__setattr__(diff, "new_version", None)
    assert diff.policy_violations() == ["both contracts need a version to check the version bump"]


def test_downgrade_is_never_enough(versions: Versions) -> None:
    diff = versions(KEEP, OLD_API, old_version="1.2.0", new_version="1.1.0")
    assert diff.actual_bump == "downgrade"
    assert diff.policy_violations() == [
        "the changes need a minor release, but 1.2.0 -> 1.1.0 is a downgrade bump"
    ]
