"""The health package's public names are exactly its curated ``__all__``."""

from __future__ import annotations

import pymodular.health as health


def test_all_lists_every_public_name_and_each_imports() -> None:
    # '@py_builtins' and '@pytest_ar': pytest rewrites asserts in a package that ships a
    # pytest plugin (pymodular.testing.plugin), and leaves those in its modules.
    public = {n for n in vars(health) if not n.startswith(("_", "@"))}
    assert set(health.__all__) == public
    assert all(getattr(health, name) is not None for name in health.__all__)
    assert list(health.__all__) == sorted(health.__all__)
