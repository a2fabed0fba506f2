"""Which service registry serves the request being handled (for mounted apps' dependencies).

The router sets it around each request it passes to a mounted app, the httpserver
around each request to an app it serves directly; ``service_dependency`` reads it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ("current_services",)

current_services: ContextVar[Any] = ContextVar("pymodular_request_services", default=None)
"""The :class:`~pymodular.services.ServiceRegistry` of the application serving the request."""
