"""The error tree (FR-046): categories, built-in mix-ins, context, no secrets."""

from __future__ import annotations

import pytest

from pymodular import errors
from pymodular.errors import (
    AmbiguousServiceError,
    ConfigError,
    DependencyError,
    LifecycleError,
    PymodularError,
    SecurityError,
    ServiceNotFoundError,
    StateError,
    ValidationError,
)
from pymodular.secrets import Secret


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (ConfigError, (PymodularError,)),
        (ValidationError, (ConfigError, ValueError)),
        (DependencyError, (PymodularError,)),
        (ServiceNotFoundError, (DependencyError, LookupError)),
        (AmbiguousServiceError, (DependencyError, LookupError)),
        (LifecycleError, (PymodularError,)),
        (StateError, (LifecycleError,)),
        (SecurityError, (PymodularError, PermissionError)),
    ],
)
def test_tree_shape(cls: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    assert all(issubclass(cls, base) for base in bases)


def test_every_error_is_drawn_in_the_module_docstring() -> None:
    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), name


def test_context_travels_as_attributes() -> None:
    err = LifecycleError("boom", module="db", phase="start", attempt=2)
    assert (err.module, err.phase) == ("db", "start")
    assert err.context() == {
        "category": "lifecycle",
        "module": "db",
        "phase": "start",
        "attempt": 2,
    }


def test_domain_categories_extend_the_tree() -> None:
    class PaymentError(PymodularError):
        category = "payment"

    assert PaymentError("declined").context() == {"category": "payment"}


def test_messages_never_contain_registered_secret_values() -> None:
    Secret("s3cr3t-password-value")
    err = ConfigError("cannot connect to postgres://u:s3cr3t-password-value@host/db")
    assert "s3cr3t" not in str(err)
    assert "**********" in str(err)
