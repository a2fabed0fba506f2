"""Deprecations warn at use with both versions and the alternative (FR-050, docs/versioning.md)."""

from __future__ import annotations

import warnings

import pytest

from pymodular.deprecation import (
    Deprecation,
    PymodularDeprecationWarning,
    deprecated,
    deprecated_alias,
    deprecations,
    warn_deprecated,
)

MESSAGE = r"is deprecated since 0\.2\.0 and will be removed in 0\.3\.0; use new_function instead\."


@deprecated(since="0.2.0", removed_in="0.3.0", alternative="new_function")
def old_function(x: int, *, y: int = 1) -> int:
    """Adds."""
    return x + y


def test_deprecated_function_warns_at_each_call_and_still_works() -> None:
    with pytest.warns(PymodularDeprecationWarning, match=MESSAGE) as caught:
        assert old_function(1, y=2) == 3
    assert caught[0].filename == __file__  # points at the caller, not at the wrapper
    assert "test_deprecation.old_function" in str(caught[0].message)


def test_deprecated_function_keeps_its_name_signature_and_docstring() -> None:
    import inspect

    assert old_function.__name__ == "old_function"
    assert old_function.__doc__ == "Adds."
    assert str(inspect.signature(old_function)) == "(x: 'int', *, y: 'int' = 1) -> 'int'"


async def test_deprecated_coroutine_function_warns_when_called() -> None:
    @deprecated(since="0.2.0", removed_in="0.3.0")
    async def fetch() -> str:
        return "data"

    with pytest.warns(PymodularDeprecationWarning, match="will be removed in 0.3.0"):
        assert await fetch() == "data"


def test_deprecated_class_warns_on_instantiation_and_on_subclassing() -> None:
    @deprecated(since="1.4.0", removed_in="2.0.0", alternative="Client")
    class LegacyClient:
        def __init__(self, url: str) -> None:
            self.url = url

    with pytest.warns(PymodularDeprecationWarning, match="LegacyClient is deprecated since 1.4.0"):
        assert LegacyClient("u").url == "u"
    with pytest.warns(PymodularDeprecationWarning, match="Custom subclasses a deprecated class"):

        class Custom(LegacyClient):
            pass

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Custom("v").url == "v"  # subclasses warned once, at their definition


def test_deprecated_methods_and_classmethods_warn() -> None:
    class Service:
        @deprecated(since="0.2.0", removed_in="0.3.0", alternative="Service.fetch")
        def get(self) -> int:
            return 1

        @classmethod
        @deprecated(since="0.2.0", removed_in="0.3.0")
        def build(cls) -> Service:
            return cls()

        @deprecated(since="0.2.0", removed_in="0.3.0")
        @staticmethod
        def helper() -> int:
            return 2

    with pytest.warns(PymodularDeprecationWarning, match="Service.get is deprecated"):
        assert Service().get() == 1
    with pytest.warns(PymodularDeprecationWarning, match="Service.build is deprecated"):
        assert isinstance(Service.build(), Service)
    with pytest.warns(PymodularDeprecationWarning, match="Service.helper is deprecated"):
        assert Service.helper() == 2


def test_removal_must_come_at_least_one_minor_release_later() -> None:
    with pytest.raises(ValueError, match="at least one minor release after"):
        deprecated(since="0.2.0", removed_in="0.2.5")
    with pytest.raises(ValueError, match="not a version"):
        deprecated(since="soon", removed_in="0.3.0")
    deprecated(since="0.2.3", removed_in="0.3.0")  # the next minor release is fine


def test_warn_deprecated_covers_parameters_and_behaviour() -> None:
    def connect(*, ssl: bool | None = None) -> None:
        if ssl is not None:
            warn_deprecated(
                "connect(ssl=...)",
                since="0.2.0",
                removed_in="0.3.0",
                alternative="connect(tls=...)",
            )

    with pytest.warns(
        PymodularDeprecationWarning, match=r"connect\(ssl=\.\.\.\) is deprecated"
    ) as caught:
        connect(ssl=True)
    assert caught[0].filename == __file__


def test_deprecated_alias_keeps_a_renamed_attribute_importable() -> None:
    class NewThing:
        pass

    getattr_hook = deprecated_alias(
        "acme.things", {"OldThing": ("NewThing", NewThing, "0.2.0", "0.3.0")}
    )
    with pytest.warns(
        PymodularDeprecationWarning, match="acme.things.OldThing is deprecated"
    ) as caught:
        assert getattr_hook("OldThing") is NewThing
    assert "use acme.things.NewThing instead" in str(caught[0].message)
    with pytest.raises(AttributeError, match="has no attribute 'Missing'"):
        getattr_hook("Missing")


def test_every_deprecation_is_recorded_and_stamped() -> None:
    record = deprecations()[f"{__name__}.old_function"]
    assert record == Deprecation(f"{__name__}.old_function", "0.2.0", "0.3.0", "new_function")
    assert old_function.__pymodular_deprecated__ == record  # type: ignore[attr-defined]
    assert old_function.__deprecated__ == record.message  # type: ignore[attr-defined]
    assert record.as_dict() == {
        "since": "0.2.0",
        "removed_in": "0.3.0",
        "alternative": "new_function",
        "reason": "",
    }


def test_a_deprecation_is_due_from_its_removal_version_on() -> None:
    record = Deprecation("x", "0.2.0", "0.3.0")
    assert not record.is_due("0.2.9")
    assert record.is_due("0.3.0")
    assert record.is_due("1.0.0")


def test_pymodular_itself_has_no_overdue_deprecations() -> None:
    import pymodular
    from pymodular.contract import extract

    extract("pymodular")  # imports every public module, declaring their deprecations
    overdue = [
        name
        for name, record in deprecations().items()
        if name.startswith("pymodular.") and record.is_due(pymodular.__version__)
    ]
    assert overdue == []


def test_decorating_something_not_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="applies to functions, methods and classes"):
        deprecated(since="0.2.0", removed_in="0.3.0")(42)
