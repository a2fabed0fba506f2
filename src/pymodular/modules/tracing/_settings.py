"""The OTLP exporter's settings: the ``tracing.otlp`` section over OpenTelemetry's variables.

OpenTelemetry's standard environment variables are defaults: a field set in the
``tracing.otlp`` section wins, a field left out takes the per-signal variable
(``OTEL_EXPORTER_OTLP_TRACES_*``), then the general one (``OTEL_EXPORTER_OTLP_*``; the
general endpoint gets ``/v1/traces`` appended), then the section's default. Each
setting records where it came from (``describe()["otlp"]["from"]``). A bad value is a
:class:`~pymodular.errors.ConfigError` naming the variable; a header value never appears
in one (header values are credentials, registered as secrets as the section's are).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from pymodular._credentials import redact_url, register_credential
from pymodular.errors import ConfigError
from pymodular.modules.tracing.config import OtlpConfig

__all__ = ("OtlpSettings", "describe_sources", "otlp_settings")

_SECTION = "tracing.otlp"
_GENERAL = "OTEL_EXPORTER_OTLP_"
_TRACES = "OTEL_EXPORTER_OTLP_TRACES_"
_COMPRESSIONS = ("gzip", "none")


@dataclass(frozen=True)
class OtlpSettings:
    """What the exporter is built with; ``sources`` says where each setting came from
    (``tracing.otlp.<field>``, ``env <VARIABLE>`` or ``default``)."""

    endpoint: str
    headers: dict[str, str] = field(repr=False)
    timeout: float
    compression: str
    certificate: str | None
    client_certificate: str | None
    client_key: str | None
    client_key_password: str | None = field(repr=False)
    sources: dict[str, str]


def otlp_settings(config: OtlpConfig, environ: Mapping[str, str] | None = None) -> OtlpSettings:
    """The settings of ``config`` with the unset fields taken from ``environ`` (the
    process's environment by default)."""
    env = os.environ if environ is None else environ
    given = config.model_fields_set
    sources: dict[str, str] = {}

    def pick(name: str, suffix: str) -> tuple[str, str] | None:
        """The value for field ``name`` from the environment, with its variable."""
        if name in given:
            sources[name] = f"{_SECTION}.{name}"
            return None
        for variable in (f"{_TRACES}{suffix}", f"{_GENERAL}{suffix}"):
            value = env.get(variable, "").strip()
            if value:
                sources[name] = f"env {variable}"
                return variable, value
        sources[name] = "default"
        return None

    endpoint = config.endpoint
    found = pick("endpoint", "ENDPOINT")
    if found is not None:
        variable, endpoint = found
        if variable == f"{_GENERAL}ENDPOINT":
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{variable} must be an http:// or https:// URL", field=f"{_SECTION}.endpoint"
            )

    headers = config.revealed_headers()
    found = pick("headers", "HEADERS")
    if found is not None:
        headers = _headers(*found)

    timeout = config.timeout
    found = pick("timeout", "TIMEOUT")
    if found is not None:
        variable, text = found
        try:
            timeout = float(text)
        except ValueError:
            timeout = float("nan")
        if not timeout > 0 or timeout == float("inf"):
            raise ConfigError(
                f"{variable} must be a positive number of seconds, not {text!r}",
                field=f"{_SECTION}.timeout",
            )

    compression: str = config.compression
    found = pick("compression", "COMPRESSION")
    if found is not None:
        variable, text = found
        compression = text.lower()
        if compression not in _COMPRESSIONS:
            raise ConfigError(
                f"{variable} must be gzip or none, not {text!r}", field=f"{_SECTION}.compression"
            )

    paths: dict[str, str | None] = {}
    for name, suffix in (
        ("certificate", "CERTIFICATE"),
        ("client_certificate", "CLIENT_CERTIFICATE"),
        ("client_key", "CLIENT_KEY"),
    ):
        found = pick(name, suffix)
        paths[name] = getattr(config, name) if found is None else found[1]
    if (paths["client_certificate"] is None) != (paths["client_key"] is None):
        raise ConfigError(
            "a client certificate and its key go together (tracing.otlp.client_certificate "
            "and client_key, or OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE and _CLIENT_KEY)",
            field=f"{_SECTION}.client_certificate",
        )
    password = config.client_key_password
    return OtlpSettings(
        endpoint=endpoint,
        headers=headers,
        timeout=timeout,
        compression=compression,
        certificate=paths["certificate"],
        client_certificate=paths["client_certificate"],
        client_key=paths["client_key"],
        client_key_password=password.reveal() if password is not None else None,
        sources=sources,
    )


def _headers(variable: str, text: str) -> dict[str, str]:
    """``name=value,name=value`` (values percent-encoded), as OpenTelemetry reads it; an
    error names the variable and the entry's position, never a value."""
    headers: dict[str, str] = {}
    for position, entry in enumerate(text.split(","), start=1):
        if not entry.strip():
            continue
        name, equals, value = entry.partition("=")
        name = unquote(name).strip().lower()
        if not equals or not name or not _token(name):
            raise ConfigError(
                f"{variable}: entry {position} is not name=value with a valid header name "
                "(the value is not shown: header values are credentials)",
                field=f"{_SECTION}.headers",
            )
        value = unquote(value).strip()
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ConfigError(
                f"{variable}: the value of header {name!r} holds a control character "
                "(the value is not shown)",
                field=f"{_SECTION}.headers",
            )
        headers[name] = value
        register_credential(value)  # as a ``Secret`` header of the section is: masked
    return headers


def _token(name: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in name)


def describe_sources(settings: OtlpSettings) -> dict[str, Any]:
    """What ``describe()`` shows: the endpoint, the TLS files and where each came from."""
    return {
        "endpoint": redact_url(settings.endpoint),
        "timeout": settings.timeout,
        "compression": settings.compression,
        "certificate": settings.certificate,
        "client_certificate": settings.client_certificate,
        "client_key": settings.client_key,
        "headers": sorted(settings.headers),
        "from": dict(settings.sources),
    }
