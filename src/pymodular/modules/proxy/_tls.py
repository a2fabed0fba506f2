"""TLS to targets: one client context per upstream, built from its ``tls`` settings.

The context verifies certificates against ``ca_file`` (or the system's CAs) and the
host name (``server_name``, else the target's host), unless ``verify`` is off; presents
a client certificate when one is configured (an encrypted key's password is a
``Secret``, revealed only to load the key); offers HTTP/1.1 only by ALPN (the upstream
client speaks HTTP/1.1; see decision 0230). A context is shared by the upstream's
targets and rebuilt when its configuration changes (the upstream is rebuilt then).
"""

from __future__ import annotations

import ssl

from pymodular.modules._http._tls import client_tls_context, load_client_certificate
from pymodular.modules.proxy.config import UpstreamTLSConfig
from pymodular.modules.proxy.errors import ProxyConfigError

__all__ = ("client_context",)


def client_context(config: UpstreamTLSConfig, *, upstream: str) -> ssl.SSLContext:
    """The client context for ``upstream``'s https targets; ProxyConfigError when a file
    cannot be read (the message names the file, never the password)."""
    field = f"proxy.upstreams.{upstream}.tls"
    try:
        context = client_tls_context(config.ca_file)
    except ValueError as exc:
        raise ProxyConfigError(f"upstream {upstream!r}: {exc}", field=f"{field}.ca_file") from None
    if not config.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if config.min_version == "1.3" else ssl.TLSVersion.TLSv1_2
    )
    context.set_alpn_protocols(["http/1.1"])
    if config.client_cert_file is not None:
        password = config.client_key_password
        try:
            load_client_certificate(
                context,
                config.client_cert_file,
                config.client_key_file,
                password.reveal() if password is not None else None,
            )
        except ValueError as exc:
            raise ProxyConfigError(
                f"upstream {upstream!r}: {exc}", field=f"{field}.client_cert_file"
            ) from None
    return context
