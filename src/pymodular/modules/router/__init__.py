"""The ``router`` module: routes, route groups, mounts and an ordered middleware chain.

::

    from pymodular.modules.router import Router, RouterModule, read_json

    router = Router()

    @router.get("/items/{id:int}")
    async def get_item(request):
        return {"id": request.path_params["id"]}

Needs the ``http`` extra (``pip install "pymodular[http]"``): it builds on Starlette's
request, response and path-parameter types. Registering :class:`RouterModule` without
it fails with that line. Importing this package does not import Starlette: the module,
its configuration and errors load at once, every other name on first use.
"""

from typing import TYPE_CHECKING

from pymodular._lazy import lazy_exports as _lazy_exports
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
from pymodular.modules.router.mount import MountModule

if TYPE_CHECKING:
    from pymodular.modules.router._group import RouteGroup
    from pymodular.modules.router._inputs import content_media, read_body, replay, unsupported_media
    from pymodular.modules.router._json import ProblemError, problem, read_json
    from pymodular.modules.router._mount import service_dependency
    from pymodular.modules.router._openapi import PROBLEM_SCHEMAS, OpenAPI
    from pymodular.modules.router._params import Body, Header, Inject, Path, Query
    from pymodular.modules.router._router import Router
    from pymodular.modules.router._routes import Route, RouteDoc
    from pymodular.modules.router._stack import BUILTIN_ORDER
    from pymodular.modules.router._starlette import HTTPException, JSONResponse, Request, Response

# Everything that needs Starlette loads on first use (the module's extra is checked
# when it is registered).
_HOME = {
    "BUILTIN_ORDER": "_stack",
    "Body": "_params",
    "HTTPException": "_starlette",
    "Header": "_params",
    "Inject": "_params",
    "JSONResponse": "_starlette",
    "OpenAPI": "_openapi",
    "PROBLEM_SCHEMAS": "_openapi",
    "Path": "_params",
    "ProblemError": "_json",
    "Query": "_params",
    "Request": "_starlette",
    "Response": "_starlette",
    "Route": "_routes",
    "RouteDoc": "_routes",
    "RouteGroup": "_group",
    "Router": "_router",
    "content_media": "_inputs",
    "problem": "_json",
    "read_body": "_inputs",
    "read_json": "_json",
    "service_dependency": "_mount",
    "replay": "_inputs",
    "unsupported_media": "_inputs",
}

__getattr__ = _lazy_exports(__name__, _HOME)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = (
    "BUILTIN_ORDER",
    "PROBLEM_SCHEMAS",
    "Body",
    "CorsConfig",
    "GZipConfig",
    "HTTPException",
    "Header",
    "Inject",
    "JSONResponse",
    "MountModule",
    "OpenAPI",
    "OpenAPIConfig",
    "Path",
    "ProblemError",
    "Query",
    "Request",
    "RequestIdConfig",
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
    "content_media",
    "problem",
    "read_body",
    "read_json",
    "replay",
    "service_dependency",
    "unsupported_media",
)
