"""The modules that ship with pymodular, by name: what to add when one is missing.

Data only — the core never imports ``pymodular.modules`` — so an unknown configuration
section or a missing service can say which bundled module reads or provides it. A test
checks the table against the modules themselves.
"""

from __future__ import annotations

__all__ = ("BUNDLED", "bundled_hint", "bundled_module_of")

BUNDLED: dict[str, str] = {
    "acme": "AcmeModule",
    "admin": "AdminModule",
    "auth": "AuthModule",
    "cache": "CacheModule",
    "database": "DatabaseModule",
    "eventbus": "EventBusModule",
    "eventlogger": "EventLoggerModule",
    "httpclient": "HttpClientModule",
    "httpserver": "HttpServerModule",
    "jsonschema": "JsonSchemaModule",
    "metrics": "MetricsModule",
    "proxy": "ProxyModule",
    "router": "RouterModule",
    "scheduler": "SchedulerModule",
    "tracing": "TracingModule",
}
"""``{module name (and its section): class name in pymodular.modules.<name>}``."""

_PACKAGE = "pymodular.modules."


def bundled_hint(name: str) -> str:
    """``"add HttpServerModule() (from pymodular.modules.httpserver)"``, or ``""``."""
    cls = BUNDLED.get(name)
    return f"add {cls}() (from {_PACKAGE}{name})" if cls else ""


def bundled_module_of(python_module: str) -> str | None:
    """The bundled module whose package holds ``python_module`` (a ``__module__``), if any."""
    if not python_module.startswith(_PACKAGE):
        return None
    name = python_module[len(_PACKAGE) :].split(".", 1)[0]
    return name if name in BUNDLED else None
