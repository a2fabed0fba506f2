"""Errors of the router module, in the pymodular error tree::

PymodularError
├── ConfigError
│   └── RouteConfigError            an invalid route, group or middleware declaration
└── DependencyError
    └── RouteNotFoundError (+LookupError)   no route has that name or path
"""

from __future__ import annotations

from pymodular.errors import ConfigError, DependencyError

__all__ = ("RouteConfigError", "RouteNotFoundError")


class RouteConfigError(ConfigError):
    """A route, group, mount or middleware declaration is invalid."""


class RouteNotFoundError(DependencyError, LookupError):
    """No route matches the name or path given to ``disable``/``enable``/``url_path_for``."""
