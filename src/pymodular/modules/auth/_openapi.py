"""The OpenAPI document's security: the schemes the configured mechanisms use, and on each
guarded operation what it requires (an OpenAPI hook on the router's document; no I/O).

Guards are found by following a route's middleware chain (:func:`guard_of`). A route
with :func:`require_auth` (or a role/scope guard) gets ``security`` listing each scheme as
an alternative, plus 401 (and 403 when it asks for roles or scopes) answers;
:func:`optional_auth` adds the empty requirement (anonymous allowed). Operations that
declare ``security`` themselves (``openapi_extra``) are left as they are. A custom
authenticator joins with a ``security_scheme`` attribute (an OpenAPI Security Scheme
object) under its mechanism's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymodular.modules.auth._middleware import Guard, guard_of

__all__ = ("security_hook",)

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def security_hook(
    router: Any, schemes: Callable[[], dict[str, dict[str, Any]]]
) -> Callable[[dict[str, Any]], None]:
    """A document hook declaring ``schemes()`` and each guarded operation's requirement."""

    def hook(document: dict[str, Any]) -> None:
        declared = schemes()
        if not declared:
            return
        components = document.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update(declared)
        paths = document.get("paths", {})
        for route in router.routes:
            if route.methods is None or not route.enabled or not route.doc.include_in_schema:
                continue
            guard = guard_of(route.app) or _typed_guard(route)
            item = paths.get(router.base_path + route.format)
            if guard is None or item is None:
                continue
            for method in route.methods:
                operation = item.get(method.lower())
                if operation is not None and "security" not in operation:
                    _secure(operation, guard, declared)

    return hook


def _secure(operation: dict[str, Any], guard: Guard, schemes: dict[str, dict[str, Any]]) -> None:
    requirements: list[dict[str, list[str]]] = []
    for name, scheme in schemes.items():
        wanted = sorted(guard.scopes) if scheme.get("type") in ("oauth2", "openIdConnect") else []
        requirements.append({name: wanted})
    if not guard.required:
        requirements.append({})
    operation["security"] = requirements
    responses = operation.setdefault("responses", {})
    responses.setdefault(
        "401", {"description": "Authentication is required or failed", "content": _PROBLEM}
    )
    if guard.roles or guard.scopes:
        responses.setdefault(
            "403", {"description": "A role or scope is missing", "content": _PROBLEM}
        )


def _typed_guard(route: Any) -> Guard | None:
    """A handler taking ``Principal`` requires authentication; ``Principal | None`` not."""
    from pymodular.modules.auth._principal import Principal

    spec = route.handler
    for param in spec.params if spec is not None else ():
        if param.source != "request_value":
            continue
        if param.annotation is Principal:
            return Guard(required=param.required)
        if Principal in getattr(param.annotation, "__args__", ()):
            return Guard(required=False)
    return None
