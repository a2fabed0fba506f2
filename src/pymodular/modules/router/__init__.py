"""The ``router`` module: routes, route groups, mounts and an ordered middleware chain.

::

    from pymodular.modules.router import Router, RouterModule, read_json

    router = Router()

    @router.get("/items/{id:int}")
    async def get_item(request):
        return {"id": request.path_params["id"]}

Needs the ``http`` extra (``pip install "pymodular[http]"``): it builds on Starlette's
request, response and path-parameter types.
"""

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError('the router module needs Starlette: pip install "pymodular[http]"') from exc

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pymodular.modules.router._cors import CorsMiddleware, CorsPolicy
from pymodular.modules.router._errors import ErrorMiddleware
from pymodular.modules.router._group import RouteGroup
from pymodular.modules.router._inputs import content_media, read_body, replay, unsupported_media
from pymodular.modules.router._json import ProblemError, problem, read_json
from pymodular.modules.router._openapi import PROBLEM_SCHEMAS, OpenAPI
from pymodular.modules.router._params import Body, Header, Inject, Path, Query
from pymodular.modules.router._request_id import RequestIdMiddleware, new_request_id
from pymodular.modules.router._router import Router
from pymodular.modules.router._routes import Route, RouteDoc
from pymodular.modules.router._stack import BUILTIN_ORDER, USER_ORDER, build_middleware_stack
from pymodular.modules.router._tenant import TenantMiddleware, resolve_tenant
from pymodular.modules.router.config import (
    CorsConfig,
    GZipConfig,
    OpenAPIConfig,
    RequestIdConfig,
    RouterConfig,
    TenantConfig,
)
from pymodular.modules.router.errors import RouteConfigError, RouteNotFoundError
from pymodular.modules.router.module import RouterModule

__all__ = (
    "BUILTIN_ORDER",
    "PROBLEM_SCHEMAS",
    "USER_ORDER",
    "Body",
    "CorsConfig",
    "CorsMiddleware",
    "CorsPolicy",
    "ErrorMiddleware",
    "GZipConfig",
    "HTTPException",
    "Header",
    "Inject",
    "JSONResponse",
    "OpenAPI",
    "OpenAPIConfig",
    "Path",
    "ProblemError",
    "Query",
    "Request",
    "RequestIdConfig",
    "RequestIdMiddleware",
    "Response",
    "Route",
    "RouteConfigError",
    "RouteDoc",
    "RouteGroup",
    "RouteNotFoundError",
    "Router",
    "RouterConfig",
    "RouterModule",
    "TenantConfig",
    "TenantMiddleware",
    "build_middleware_stack",
    "content_media",
    "new_request_id",
    "problem",
    "read_body",
    "read_json",
    "replay",
    "resolve_tenant",
    "unsupported_media",
)
