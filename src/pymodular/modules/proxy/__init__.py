"""The ``proxy`` module: a reverse proxy on the router — load balancing, circuit breakers,
health checks, retries with a budget, tenant routing, streaming both ways.

::

    from pymodular.modules.proxy import ProxyModule

    app = Application(
        [RouterModule(), ProxyModule(), HttpServerModule()],
        feeders=[DictFeeder({"proxy": {
            "upstreams": {"users": {"targets": ["http://127.0.0.1:9001"]}},
            "routes": [{"path": "/users", "upstream": "users"}],
        }})],
    )

Needs the ``http`` extra (``pip install "pymodular[http]"``); importing this package
imports neither httptools nor Starlette.
"""

from pymodular.modules.proxy._composite import CompositePart
from pymodular.modules.proxy._proxy import ReverseProxy
from pymodular.modules.proxy.config import (
    AdminConfig,
    BreakerConfig,
    CompositeConfig,
    ForwardedConfig,
    HealthCheckConfig,
    OutlierConfig,
    PipelineStep,
    ProxyConfig,
    ProxyRetryConfig,
    RouteConfig,
    ShadowConfig,
    TargetConfig,
    TenantRoutingConfig,
    UpstreamConfig,
    UpstreamTLSConfig,
    WebSocketConfig,
)
from pymodular.modules.proxy.errors import (
    ProxyConfigError,
    ProxyError,
    UpstreamClosedError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from pymodular.modules.proxy.module import ProxyModule

__all__ = (
    "AdminConfig",
    "BreakerConfig",
    "CompositeConfig",
    "CompositePart",
    "ForwardedConfig",
    "HealthCheckConfig",
    "OutlierConfig",
    "PipelineStep",
    "ProxyConfig",
    "ProxyConfigError",
    "ProxyError",
    "ProxyModule",
    "ProxyRetryConfig",
    "ReverseProxy",
    "RouteConfig",
    "ShadowConfig",
    "TargetConfig",
    "TenantRoutingConfig",
    "UpstreamClosedError",
    "UpstreamConfig",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamTLSConfig",
    "UpstreamTimeoutError",
    "WebSocketConfig",
)
