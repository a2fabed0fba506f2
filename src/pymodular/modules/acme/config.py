"""Configuration of the ``acme`` section.

::

    acme:
      directory: letsencrypt          # letsencrypt | letsencrypt-staging | a directory URL
      email: ops@example.com
      domains: [example.com, www.example.com]     # one certificate per name (SNI)
      challenge: http-01              # http-01 (default) | dns-01 | tls-alpn-01
      storage_path: /var/lib/myapp/acme           # 0700 directories, 0600 files
      renew_before_days: 30           # or a third of the lifetime, whichever is smaller

Environment (with an ``EnvFeeder`` prefix in front): ``ACME_EMAIL=...``,
``ACME_DOMAINS='["example.com"]'``.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import field_validator, model_validator

from pymodular.config import ConfigModel, field

__all__ = ("AcmeConfig",)

DIRECTORIES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_MAX_NAME = 253


def check_domain(name: str) -> str:
    """``name`` lower-cased, or ValueError saying why it is not a DNS name for a certificate."""
    if not isinstance(name, str):
        raise TypeError("a domain must be text")
    lowered = name.strip().lower().rstrip(".")
    if not lowered or len(lowered) > _MAX_NAME:
        raise ValueError(f"domain {name[:80]!r} must be 1 to 253 characters")
    labels = lowered.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"domain {name[:80]!r} is not a DNS name with at least two labels of letters, "
            "digits and inner hyphens (a leading '*.' is allowed for DNS-01)"
        )
    return lowered


class AcmeConfig(ConfigModel):
    """The ``acme`` section."""

    directory: str = field(
        "letsencrypt",
        description="ACME directory: letsencrypt, letsencrypt-staging or an https:// URL",
    )
    email: str | None = field(None, description="Contact address registered with the account")
    domains: list[str] = field(
        default_factory=list,
        description="Names to hold certificates for, one certificate each (served by SNI)",
        dynamic=True,
    )
    challenge: Literal["http-01", "dns-01", "tls-alpn-01"] = field(
        "http-01",
        description="Challenge type: http-01 (answered on the router), dns-01 (through the "
        "DnsProvider service) or tls-alpn-01 (answered by the TLS listener)",
    )
    storage: Literal["files", "database"] = field(
        "files",
        description="Where the account key and certificates live: files under storage_path, "
        "or the database module (replicas share them; one renews at a time)",
    )
    storage_path: str = field(
        "~/.pymodular/acme",
        description="Directory for keys and certificates (created 0700, files 0600); with "
        "storage: database only the files served to the TLS listener are kept here",
    )
    database: str | None = field(
        None, description="Database connection for storage: database (default: the default one)"
    )
    table_prefix: str = field(
        "pymodular_acme",
        description="Prefix of the tables of storage: database (letters, digits and _)",
        pattern=r"^[A-Za-z0-9_]{1,40}$",
    )
    ca_bundle: str | None = field(
        None, description="PEM file of CAs trusted for the directory's HTTPS (private CAs)"
    )
    key_type: Literal["ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"] = field(
        "ec256", description="Key type of certificate keys and of a new account key"
    )
    min_tls_version: Literal["1.2", "1.3"] = field(
        "1.2",
        description="Oldest TLS version of the per-domain contexts (match the HTTPS "
        "server's tls.min_version)",
    )
    auto_renew: bool = field(True, description="Obtain missing and renew due certificates")
    renew_before_days: float = field(
        30.0,
        description="Renew when this many days remain, or when a third of the lifetime "
        "remains if that is less",
        gt=0,
        dynamic=True,
    )
    renew_fraction: float = field(
        1 / 3, description="The lifetime fraction of the rule above", gt=0, lt=1, dynamic=True
    )
    jitter: float = field(
        0.1,
        description="Renew up to this fraction of the renewal window early, at random",
        ge=0,
        le=1,
        dynamic=True,
    )
    escalate_days: float = field(
        7.0,
        description="A failed renewal with fewer days left emits acme.renewal.escalated "
        "and turns health degraded",
        gt=0,
        dynamic=True,
    )
    retry_initial: float = field(
        60.0, description="Seconds before the first retry of a failed order", gt=0, dynamic=True
    )
    retry_max: float = field(
        6 * 3600.0, description="Longest wait between retries, in seconds", gt=0, dynamic=True
    )
    check_interval: float = field(
        12 * 3600.0,
        description="Seconds between checks when nothing is due (the store is re-read and "
        "ARI asked again)",
        gt=0,
        dynamic=True,
    )
    order_timeout: float = field(
        120.0, description="Seconds an order may take from creation to certificate", gt=0
    )
    request_timeout: float = field(
        30.0, description="Seconds one request to the ACME server may take", gt=0
    )
    ari: bool = field(True, description="Follow ACME Renewal Information when the CA offers it")
    serve_placeholder: bool = field(
        True,
        description="Serve a self-signed certificate for a name until its first certificate "
        "arrives (lets the TLS listener start before issuance)",
    )

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        checked = [check_domain(name) for name in value]
        if len(set(checked)) != len(checked):
            raise ValueError("domains must not repeat a name")
        return checked

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: str) -> str:
        if value in DIRECTORIES:
            return value
        if not value.startswith("https://"):
            raise ValueError(
                f"directory must be {', '.join(DIRECTORIES)} or an https:// URL, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _wildcards(self) -> Self:
        wild = [d for d in self.domains if d.startswith("*.")]
        if wild and self.challenge != "dns-01":
            raise ValueError(f"wildcard domains ({', '.join(wild)}) need challenge: dns-01")
        return self

    @property
    def directory_url(self) -> str:
        """The directory URL (aliases resolved)."""
        return DIRECTORIES.get(self.directory, self.directory)
