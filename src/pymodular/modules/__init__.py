"""Bundled modules, one subpackage each; import the one you use.

Each bundled module follows the same template: ``config.py`` (its section's model),
``module.py`` (the :class:`~pymodular.Module`), ``errors.py`` and a curated public API
in its ``__init__``. Heavy third-party packages are extras, imported only when the
module starts, so importing a module package stays cheap::

    from pymodular.modules.httpserver import HttpServerModule   # extra: pymodular[http]
    from pymodular.modules.router import RouterModule           # extra: pymodular[http]
    from pymodular.modules.httpclient import HttpClientModule   # extra: pymodular[httpclient]

This package imports none of them: the core never depends on a bundled module.
"""

__all__: tuple[str, ...] = ()
