"""The ``httpserver`` module: an ASGI server (uvicorn) with TLS, limits and graceful drain.

::

    from pymodular import Application
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.router import RouterModule

    app = Application([RouterModule(), HttpServerModule()], health=True)

Needs the ``http`` extra (``pip install "pymodular[http]"``): registering the module
without it fails with that line; uvicorn is imported when the server starts, not when
this package is imported.
"""

from pymodular.modules._http import ASGIApp
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
    "ASGIApp",
    "CertificateFiles",
    "CertificateProvider",
    "FileCertificateProvider",
    "HealthEndpointsConfig",
    "HttpServer",
    "HttpServerConfig",
    "HttpServerError",
    "HttpServerModule",
    "PortInUseError",
    "TLSConfig",
    "TLSConfigError",
)
