"""Errors of the auth module, in the pymodular error tree (FR-046)::

    PymodularError
    ├── ConfigError
    │   └── AuthConfigError              auth settings that cannot be used (a key that
    │                                    does not load, an algorithm a key cannot do)
    └── SecurityError (+PermissionError)
        ├── AuthenticationError          credentials were given and not accepted (401)
        │   ├── InvalidTokenError        malformed, wrongly signed, wrong issuer or
        │   │   │                        audience, not yet valid, revoked, unknown key
        │   │   └── TokenReuseError      a refresh token presented a second time
        │   ├── ExpiredTokenError        a well-signed token past its expiry
        │   └── UnsupportedMechanismError  a credential no configured authenticator takes
        ├── ForbiddenError               authenticated, but lacking a role or scope (403)
        └── KeysUnavailableError         no verification keys could be had (503)

Each error has ``reason``, a short code for logs, events and metrics (``signature``,
``audience``, ``expired``...), and ``mechanism`` (``jwt``, ``api_key``, ``session``...).
Messages say what was wrong for the operator; they never quote a token, a key or a
secret, and the HTTP answers built from them say less still (see ``_challenge.py``).
"""

from __future__ import annotations

from typing import Any

from pymodular.errors import ConfigError, SecurityError

__all__ = (
    "AuthConfigError",
    "AuthenticationError",
    "ExpiredTokenError",
    "ForbiddenError",
    "InvalidTokenError",
    "KeysUnavailableError",
    "TokenReuseError",
    "UnsupportedMechanismError",
)


class AuthConfigError(ConfigError):
    """Auth configuration that cannot be used as given (a key, an algorithm, a provider)."""

    category = "auth"


class _ClassifiedError(SecurityError):
    """A security error with a ``reason`` code and the ``mechanism`` that raised it."""

    category = "auth"
    default_reason = "invalid"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        mechanism: str | None = None,
        **context: Any,
    ) -> None:
        reason = reason or self.default_reason
        super().__init__(message, reason=reason, mechanism=mechanism, **context)
        self.reason = reason
        self.mechanism = mechanism


class AuthenticationError(_ClassifiedError):
    """Credentials were presented and not accepted; the answer is 401."""


class InvalidTokenError(AuthenticationError):
    """A token that is malformed, wrongly signed, not for us, not yet valid or revoked."""


class TokenReuseError(InvalidTokenError):
    """A refresh token was presented after it had been exchanged: its family is revoked."""

    default_reason = "reused"


class ExpiredTokenError(AuthenticationError):
    """A correctly signed token whose expiry (plus the leeway) has passed."""

    default_reason = "expired"


class UnsupportedMechanismError(AuthenticationError):
    """A credential that no configured authenticator accepts (``Authorization: Digest``)."""

    default_reason = "unsupported"


class ForbiddenError(_ClassifiedError):
    """The principal is authenticated but lacks a required role or scope; the answer is 403."""

    default_reason = "forbidden"


class KeysUnavailableError(_ClassifiedError):
    """No key set could be fetched and none is cached: tokens cannot be checked (503)."""

    default_reason = "keys_unavailable"
