"""Errors of the httpclient module, in the pymodular error tree::

PymodularError
├── ConfigError
│   └── HttpClientConfigError       a client's settings cannot be used (HTTP/2 without h2, ...)
├── DependencyError
│   └── UnknownClientError (+LookupError)   no client has that name
└── HttpRequestError                a request failed without an answer; each concrete error
                                    is also the httpx exception it classifies, e.g.
                                    HttpConnectError (+httpx.ConnectError),
                                    HttpReadTimeoutError (+httpx.ReadTimeout); the httpx
                                    exception is its ``__cause__``
"""

from __future__ import annotations

from typing import Any

from pymodular.errors import ConfigError, DependencyError, PymodularError

__all__ = ("HttpClientConfigError", "HttpRequestError", "UnknownClientError")


class HttpClientConfigError(ConfigError):
    """A client's configuration cannot be used as given."""


class UnknownClientError(DependencyError, LookupError):
    """No HTTP client is configured under the requested name."""


class HttpRequestError(PymodularError):
    """A request got no answer: which method and URL (secrets and query values masked),
    which server (``address``, ``host:port``), after how many ``attempts``.

    Raised by the clients of the module in place of the httpx transport error, whose
    class it also is (``except httpx.ConnectError`` still catches it).
    """

    category = "http"

    def __init__(
        self, message: str, *, method: str, url: str, address: str, attempts: int, **context: Any
    ) -> None:
        super().__init__(message, method=method, url=url, address=address, attempts=attempts)
        self.method = method
        self.url = url
        self.address = address
        self.attempts = attempts
