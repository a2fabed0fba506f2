"""The ``httpclient`` module: shared httpx clients with retries, logging and health.

::

    from pymodular.modules.httpclient import HttpClientModule, HttpClients

    app = Application([HttpClientModule(), ...])
    client = app.services.get(httpx.AsyncClient)          # the default client
    github = app.services.get(HttpClients)["github"]      # a named client

Needs the ``httpclient`` extra (``pip install "pymodular[httpclient]"``).
"""

try:
    import httpx  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        'the httpclient module needs httpx: pip install "pymodular[httpclient]"'
    ) from exc

from pymodular.modules.httpclient._clients import ClientEntry, HttpClients, build_client
from pymodular.modules.httpclient._redact import (
    SENSITIVE_FIELDS,
    SENSITIVE_HEADERS,
    redact_body,
    redact_headers,
    redact_url,
)
from pymodular.modules.httpclient._retry import (
    RetryPolicy,
    backoff_delay,
    retry_after_seconds,
    should_retry,
)
from pymodular.modules.httpclient._transport import RetryTransport
from pymodular.modules.httpclient._window import ErrorWindow
from pymodular.modules.httpclient.config import (
    ClientHealthConfig,
    HttpClientConfig,
    LoggingConfig,
    RetryConfig,
)
from pymodular.modules.httpclient.errors import HttpClientConfigError, UnknownClientError
from pymodular.modules.httpclient.module import HttpClientModule

__all__ = (
    "SENSITIVE_FIELDS",
    "SENSITIVE_HEADERS",
    "ClientEntry",
    "ClientHealthConfig",
    "ErrorWindow",
    "HttpClientConfig",
    "HttpClientConfigError",
    "HttpClientModule",
    "HttpClients",
    "LoggingConfig",
    "RetryConfig",
    "RetryPolicy",
    "RetryTransport",
    "UnknownClientError",
    "backoff_delay",
    "build_client",
    "redact_body",
    "redact_headers",
    "redact_url",
    "retry_after_seconds",
    "should_retry",
)
