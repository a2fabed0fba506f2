"""Serving the OpenAPI document and the interactive docs page (assets shipped in the package).

The page is three small files in ``assets/`` (HTML, script, style): no CDN, nothing
fetched from elsewhere, so it works offline and under ``Content-Security-Policy:
default-src 'self'``, which it is sent with.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from pymodular.modules.router.errors import RouteConfigError

if TYPE_CHECKING:
    from pymodular.modules.router._router import Router

__all__ = ("serve_openapi",)

_ASSETS = {"docs.js": "text/javascript", "docs.css": "text/css"}
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


@cache
def asset(name: str) -> bytes:
    """The packaged file ``assets/name``."""
    return resources.files("pymodular.modules.router").joinpath("assets", name).read_bytes()


def serve_openapi(router: Router, *, path: str | None, docs_path: str | None) -> None:
    """Add the routes serving the document at ``path`` and the page at ``docs_path``
    (either may be None: not served). Neither appears in the document."""
    if path is not None:
        _check(path, "openapi path")
        router.get(path, name="openapi", include_in_schema=False)(_document(router))
    if docs_path is None:
        return
    _check(docs_path, "docs path")
    if path is None:
        raise RouteConfigError("the docs page needs the OpenAPI document: give it a path")
    document_path = path
    base = docs_path.rstrip("/")

    async def docs(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        page = asset("docs.html").decode()
        values = {
            "{{title}}": html.escape(router.openapi.title),
            "{{openapi_url}}": html.escape(root + document_path),
            "{{assets}}": html.escape(root + base + "/assets"),
        }
        for marker, value in values.items():
            page = page.replace(marker, value)
        return Response(page, media_type="text/html", headers=_page_headers())

    async def assets(request: Request) -> Response:
        name = request.path_params["name"]
        media = _ASSETS.get(name)
        if media is None:
            return Response(status_code=404)
        return Response(asset(name), media_type=media, headers=_page_headers())

    router.get(docs_path, name="docs", include_in_schema=False)(docs)
    router.get(base + "/assets/{name}", name="docs_assets", include_in_schema=False)(assets)


def _document(router: Router) -> Callable[[Request], Awaitable[Response]]:
    async def openapi(request: Request) -> Response:
        return Response(
            router.openapi.json(),
            media_type="application/json",
            headers={"cache-control": "no-cache"},
        )

    return openapi


def _page_headers() -> dict[str, str]:
    return {
        "content-security-policy": _CSP,
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
    }


def _check(path: str, what: str) -> None:
    if not path.startswith("/") or "{" in path:
        raise RouteConfigError(f"the {what} {path!r} must start with '/' and have no parameters")
