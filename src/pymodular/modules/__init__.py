"""Bundled modules, one subpackage each; import the one you use.

Each bundled module follows the same template (see ``docs/modules.md``): ``config.py``
(its section's model), ``module.py`` (the :class:`~pymodular.Module`, naming its extra
with ``extra = Extra(...)``), ``errors.py``, and an ``__init__`` that exports only the
module, its configuration, its errors and its service types. Third-party packages are
imported only when the module runs, so importing a module package stays cheap and
registering one without its extra fails with the ``pip install`` line::

    from pymodular.modules.httpserver import HttpServerModule   # extra: pymodular[http]
    from pymodular.modules.router import RouterModule           # extra: pymodular[http]
    from pymodular.modules.httpclient import HttpClientModule   # extra: pymodular[httpclient]
    from pymodular.modules.database import DatabaseModule       # extra: pymodular[database]

This package imports none of them: the core never depends on a bundled module. What
the bundled modules share lives in private modules here: ``_http`` (ASGI types,
problem+json answers) and ``_backends`` (engines chosen by configuration).
"""

__all__: tuple[str, ...] = ()
