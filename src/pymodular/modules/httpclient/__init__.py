"""The ``httpclient`` module: shared httpx clients with retries, logging and health.

::

    from pymodular.modules.httpclient import HttpClientModule, HttpClients

    app = Application([HttpClientModule(), ...])
    client = app.services.get(httpx.AsyncClient)          # the default client
    github = app.services.get(HttpClients)["github"]      # a named client

Needs the ``httpclient`` extra (``pip install "pymodular[httpclient]"``): registering
the module without it fails with that line; importing this package does not import
httpx.
"""

from pymodular.modules.httpclient._service import HttpClients
from pymodular.modules.httpclient.config import (
    ClientHealthConfig,
    HttpClientConfig,
    LoggingConfig,
    RetryConfig,
)
from pymodular.modules.httpclient.errors import (
    HttpClientConfigError,
    HttpRequestError,
    UnknownClientError,
)
from pymodular.modules.httpclient.module import HttpClientModule

__all__ = (
    "ClientHealthConfig",
    "HttpClientConfig",
    "HttpClientConfigError",
    "HttpClientModule",
    "HttpClients",
    "HttpRequestError",
    "LoggingConfig",
    "RetryConfig",
    "UnknownClientError",
)
