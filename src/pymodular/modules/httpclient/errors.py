"""Errors of the httpclient module, in the pymodular error tree::

PymodularError
├── ConfigError
│   └── HttpClientConfigError       a client's settings cannot be used (HTTP/2 without h2, ...)
└── DependencyError
    └── UnknownClientError (+LookupError)   no client has that name
"""

from __future__ import annotations

from pymodular.errors import ConfigError, DependencyError

__all__ = ("HttpClientConfigError", "UnknownClientError")


class HttpClientConfigError(ConfigError):
    """A client's configuration cannot be used as given."""


class UnknownClientError(DependencyError, LookupError):
    """No HTTP client is configured under the requested name."""
