"""HTTP plumbing the bundled HTTP modules share (private: not part of the public API).

- ASGI type aliases, the :class:`ASGIApp` protocol and a request's id (``_asgi``);
- problem details (RFC 9457) bodies and answers (``_problem``), ``Retry-After`` read
  (``_retry_after``);
- running an ASGI app's lifespan inside the module lifecycle (``_lifespan``);
- the service registry of the request being served, for mounted apps (``_bridge``).

The router and the httpserver import these from here; neither imports the other's
internals, and nothing here imports a third-party package.
"""

from pymodular.modules._http._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    direct,
    request_id_of,
)
from pymodular.modules._http._bridge import current_services
from pymodular.modules._http._lifespan import Lifespan
from pymodular.modules._http._problem import (
    PROBLEM_CONTENT_TYPE,
    problem_body,
    raw_problem_response,
    send_problem,
)
from pymodular.modules._http._retry_after import retry_after_seconds

__all__ = (
    "PROBLEM_CONTENT_TYPE",
    "ASGIApp",
    "Lifespan",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "current_services",
    "direct",
    "problem_body",
    "raw_problem_response",
    "request_id_of",
    "retry_after_seconds",
    "send_problem",
)
