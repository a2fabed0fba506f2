"""The reload package's public names are exactly its curated ``__all__``."""

from __future__ import annotations

import pymodular.reload as reload


def test_all_lists_every_public_name_and_each_imports() -> None:
    # '@py_builtins' and '@pytest_ar': pytest rewrites asserts in a package that ships a
    # pytest plugin (pymodular.testing.plugin), and leaves those in its modules.
    public = {n for n in vars(reload) if not n.startswith(("_", "@"))} - {"errors"}
    assert set(reload.__all__) == public
    assert all(getattr(reload, name) is not None for name in reload.__all__)
    assert list(reload.__all__) == sorted(reload.__all__)


def test_errors_sit_in_the_core_tree() -> None:
    from pymodular.errors import ConfigError, LifecycleError

    assert issubclass(reload.RestartRequiredError, ConfigError)
    assert issubclass(reload.ReloadError, LifecycleError)
