"""The ``httpserver`` module: an ASGI server (uvicorn) with TLS, limits and graceful drain.

::

    from pymodular import Application
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.router import RouterModule

    app = Application([RouterModule(), HttpServerModule()], health=True)

Needs the ``http`` extra (``pip install "pymodular[http]"``); uvicorn is imported
when the server starts, not when this package is imported.
"""

from pymodular.modules.httpserver._asgi import ASGIApp, Message, Receive, Scope, Send
from pymodular.modules.httpserver._bind import port_holder
from pymodular.modules.httpserver._entry import probe_response
from pymodular.modules.httpserver._problem import (
    PROBLEM_CONTENT_TYPE,
    problem_body,
    send_problem,
)
from pymodular.modules.httpserver._server import HttpServer
from pymodular.modules.httpserver._tls import (
    CertificateFiles,
    CertificateProvider,
    FileCertificateProvider,
)
from pymodular.modules.httpserver.config import (
    HealthEndpointsConfig,
    HttpServerConfig,
    TLSConfig,
)
from pymodular.modules.httpserver.errors import HttpServerError, PortInUseError, TLSConfigError
from pymodular.modules.httpserver.module import HttpServerModule

__all__ = (
    "PROBLEM_CONTENT_TYPE",
    "ASGIApp",
    "CertificateFiles",
    "CertificateProvider",
    "FileCertificateProvider",
    "HealthEndpointsConfig",
    "HttpServer",
    "HttpServerConfig",
    "HttpServerError",
    "HttpServerModule",
    "Message",
    "PortInUseError",
    "Receive",
    "Scope",
    "Send",
    "TLSConfig",
    "TLSConfigError",
    "port_holder",
    "probe_response",
    "problem_body",
    "send_problem",
)
