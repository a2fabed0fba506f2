"""Client TLS contexts for the bundled HTTP clients (the proxy's upstreams, the OTLP
exporter): a CA bundle and a client certificate, with errors that name the file and
never the key's password."""

from __future__ import annotations

import ssl

__all__ = ("client_tls_context", "load_client_certificate")


def client_tls_context(cafile: str | None) -> ssl.SSLContext:
    """A verifying client context trusting ``cafile`` (or the system's CAs); ValueError
    when the bundle cannot be read."""
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot read the CA bundle {cafile!r}: {_why(exc)}") from None


def load_client_certificate(
    context: ssl.SSLContext, certificate: str, key: str | None, password: str | None
) -> None:
    """Present ``certificate`` (and ``key``, decrypted with ``password``) from ``context``;
    ValueError naming both files when they cannot be loaded."""
    try:
        context.load_cert_chain(certificate, key, password=password)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load the client certificate {certificate!r} with key {key!r}: "
            f"{_why(exc)} (is the key's password right?)"
        ) from None


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
