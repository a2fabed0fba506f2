"""TenancyOptions and the Application keywords that enable tenancy."""

from __future__ import annotations

import pytest

from pymodular import Application
from pymodular.services import InstanceScopes
from pymodular.tenancy import GuardMode, TenancyOptions


def test_defaults_are_strict_with_tenant_affixed_variables() -> None:
    options = TenancyOptions()
    assert options.mode is GuardMode.STRICT
    assert (options.env_prefix, options.discover_env, options.directories) == ("TENANT_", True, ())


def test_a_single_directory_may_be_given_as_a_string() -> None:
    assert TenancyOptions(directories="tenants").directories == ("tenants",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drain_timeout": 0}, "drain_timeout must be positive"),
        ({"notify_timeout": -1}, "notify_timeout must be positive"),
        ({"max_tenants": 0}, ">= 1"),
        ({"max_file_bytes": 0}, ">= 1"),
        ({"env_prefix": ""}, "non-empty string or None"),
        ({"guard": "loose"}, "is not one of strict, permissive, disabled"),
    ],
)
def test_invalid_options_are_refused_with_the_reason(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TenancyOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error"),
    [("5", TypeError), (True, TypeError), (float("nan"), ValueError), (float("inf"), ValueError)],
)
def test_timeouts_must_be_finite_numbers_of_seconds(value: object, error: type[Exception]) -> None:
    for name in ("drain_timeout", "notify_timeout"):
        with pytest.raises(error, match=f"TenancyOptions.{name} must be"):
            TenancyOptions(**{name: value})  # type: ignore[arg-type]


def test_tenancy_must_be_a_bool_or_options() -> None:
    with pytest.raises(TypeError, match="bool or TenancyOptions"):
        Application(tenancy="yes")  # type: ignore[arg-type]


def test_tenant_ids_declared_in_options_are_checked_at_construction() -> None:
    from pymodular.tenancy import InvalidTenantIdError

    with pytest.raises(InvalidTenantIdError):
        Application(tenancy=TenancyOptions(tenants={"../up": {}}))


def test_without_tenancy_there_is_no_tenant_registry_but_instance_scope_works() -> None:
    app = Application()
    assert app._tenants is None
    assert isinstance(app.services.scope_resolver, InstanceScopes)
