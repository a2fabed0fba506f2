"""The front of the production profile: the reverse proxy before the replicas.

An application of three bundled modules — the router, the reverse proxy and the HTTP
server — forwarding every path to the replicas: round robin, an active health check of
each replica's ``/readyz`` every second (a replica that is stopping or dead is out
within about a second, and back once it answers again), passive ejection after
consecutive failures, and retries of what is safe to retry (a connection refused before
anything was sent, idempotent methods). Its own probes are ``/front/livez`` and
``/front/readyz``, so ``/livez`` and ``/readyz`` reach a replica. With ACME settings it
also serves HTTPS, by SNI, with certificates it obtains and renews itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymodular import Application, Module
from pymodular.config.feeders import DictFeeder, EnvFeeder
from pymodular.modules.acme import AcmeModule
from pymodular.modules.httpserver import HttpServerModule
from pymodular.modules.proxy import ProxyModule
from pymodular.modules.router import RouterModule

__all__ = ("create_front", "front_config")


def front_config(
    targets: Sequence[str], *, port: int = 8080, acme: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The front's configuration for these replica URLs (and ACME's, for HTTPS)."""
    config: dict[str, Any] = {
        "httpserver": {
            "host": "127.0.0.1",
            "port": port,
            "shutdown_grace": 15,
            "health": {"liveness_path": "/front/livez", "readiness_path": "/front/readyz"},
        },
        "router": {
            "openapi": {"enabled": False, "docs_enabled": False},  # the replicas serve theirs
            "request_id": {"trust_incoming": False},
        },
        "proxy": {
            "upstreams": {
                "showcase": {
                    "targets": list(targets),
                    "balancer": "round_robin",
                    "connect_timeout": 1.0,
                    "read_timeout": 30.0,
                    "health_check": {
                        "enabled": True,
                        "path": "/readyz",
                        "interval": 0.5,
                        "timeout": 1.0,
                        "healthy_threshold": 1,
                        "unhealthy_threshold": 1,
                    },
                }
            },
            "routes": [{"path": "/", "upstream": "showcase"}],
        },
    }
    if acme is not None:  # HTTPS on a second listener, certificates from the ACME module
        config["acme"] = {key: value for key, value in acme.items() if key != "https_port"}
        config["https"] = {
            "host": "127.0.0.1",
            "port": acme.get("https_port", 8443),
            "tls": {"enabled": True, "provider": True},
            "health": {"liveness_path": "/front/livez", "readiness_path": "/front/readyz"},
        }
    return config


def create_front(
    targets: Sequence[str],
    *,
    port: int = 8080,
    environ: Mapping[str, str] | None = None,
    acme: Mapping[str, Any] | None = None,
) -> Application:
    """The front application (``FRONT_*`` variables override its configuration).

    With ``acme`` (the ``acme`` section, plus ``https_port``) it also serves HTTPS with
    the certificates the ACME module obtains (HTTP-01 answered on the plain listener).
    """
    modules: list[Module[Any]] = [RouterModule(), ProxyModule(), HttpServerModule()]
    if acme is not None:
        modules += [AcmeModule(), HttpServerModule(name="https")]
    return Application(
        modules,
        name="showcase-front",
        feeders=[
            DictFeeder(front_config(targets, port=port, acme=acme)),
            EnvFeeder(prefix="FRONT_", environ=environ),
        ],
        health=True,
    )
