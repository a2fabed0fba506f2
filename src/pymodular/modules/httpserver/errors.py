"""Errors of the httpserver module, in the pymodular error tree::

PymodularError
├── ConfigError
│   └── TLSConfigError          TLS is on but no usable certificate and key
└── LifecycleError
    └── HttpServerError         the server could not start or stop
        └── PortInUseError      the address is taken; ``host``, ``port``, ``holder``
"""

from __future__ import annotations

from typing import Any

from pymodular.errors import ConfigError, LifecycleError

__all__ = ("HttpServerError", "PortInUseError", "TLSConfigError")


class HttpServerError(LifecycleError):
    """The HTTP server could not start, serve or stop."""


class PortInUseError(HttpServerError):
    """The listening address is already taken.

    ``holder`` describes the process holding it (``"pid 4242 (nginx: master)"``) when
    the operating system tells, else ``None``.
    """

    def __init__(
        self, message: str, *, host: str, port: int, holder: str | None = None, **context: Any
    ) -> None:
        super().__init__(message, **context)
        self.host = host
        self.port = port
        self.holder = holder


class TLSConfigError(ConfigError):
    """TLS is enabled but no certificate and key could be loaded."""
