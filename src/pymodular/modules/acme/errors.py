"""Errors of the acme module, in the pymodular error tree::

    PymodularError
    └── AcmeError                            category "acme"; ``domain`` when one is concerned
        ├── CertificateDataError (+ValueError)
        │                                    a chain or key that is not usable PEM, or a key
        │                                    that does not belong to its certificate
        ├── CertificateStoreError (+OSError) the store could not read or write (permissions,
        │                                    a full disk, the database)
        └── AcmeOrderError                   the CA refused or the order failed; ``acme_type``
            │                                (the problem's URN) and ``retry_after`` (a
            │                                datetime, when the server said when to come back)
            ├── AcmeUnavailableError (+ConnectionError)
            │                                the directory could not be reached
            ├── RateLimitedError             the CA's rate limit (``rateLimited``)
            └── ChallengeError               a challenge was not validated; ``challenge``
                                             ("http-01", "dns-01", "tls-alpn-01")

Messages never carry a private key, the account key or an EAB secret; ACME problem
details are quoted as the server wrote them (they name domains, never keys).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymodular.errors import PymodularError

__all__ = (
    "AcmeError",
    "AcmeOrderError",
    "AcmeUnavailableError",
    "CertificateDataError",
    "CertificateStoreError",
    "ChallengeError",
    "RateLimitedError",
)


class AcmeError(PymodularError):
    """Base of every acme module error; ``domain`` names the certificate concerned."""

    category = "acme"

    def __init__(self, message: str, *, domain: str | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.domain = domain


class CertificateDataError(AcmeError, ValueError):
    """A certificate chain or private key that cannot be used."""


class CertificateStoreError(AcmeError, OSError):
    """The certificate store failed to read or write."""


class AcmeOrderError(AcmeError):
    """The ACME server refused a request or the order failed."""

    def __init__(
        self,
        message: str,
        *,
        acme_type: str | None = None,
        retry_after: dt.datetime | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.acme_type = acme_type
        self.retry_after = retry_after


class AcmeUnavailableError(AcmeOrderError, ConnectionError):
    """The ACME directory could not be reached (network, TLS, a server down)."""


class RateLimitedError(AcmeOrderError):
    """The CA's rate limit refused the request; ``retry_after`` says when to return."""


class ChallengeError(AcmeOrderError):
    """The CA could not validate a challenge; ``challenge`` names its type."""

    def __init__(self, message: str, *, challenge: str | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.challenge = challenge
