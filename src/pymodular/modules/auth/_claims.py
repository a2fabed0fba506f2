"""Checking registered claims and turning a payload into a :class:`Principal` (no I/O).

``check_claims`` applies RFC 7519: ``exp`` and ``nbf`` with a leeway, ``iss`` against
the accepted issuers, ``aud`` against the accepted audiences (a token naming an
audience is refused when none is configured), types checked before use. ``to_principal``
reads subject, roles, scopes and tenant from configurable claims.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pymodular.modules.auth._principal import Principal
from pymodular.modules.auth.errors import ExpiredTokenError, InvalidTokenError

__all__ = ("ClaimsMapping", "ClaimsPolicy", "check_claims", "claim_at", "to_principal")

_MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z: later stamps are nonsense, not "never"


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What a token's registered claims must satisfy.

    ``issuers``/``audiences`` empty means "not checked" for the issuer and "the token
    must name no audience" for the audience. ``required`` claims must be present.
    ``leeway`` (seconds) absorbs clock skew on ``exp``, ``nbf`` and ``iat``.
    """

    issuers: frozenset[str] = frozenset()
    audiences: frozenset[str] = frozenset()
    leeway: float = 0.0
    required: frozenset[str] = frozenset({"exp"})
    mechanism: str = "jwt"

    @classmethod
    def of(
        cls,
        *,
        issuer: str | Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        leeway: float = 0.0,
        required: Iterable[str] = ("exp",),
        mechanism: str = "jwt",
    ) -> ClaimsPolicy:
        """A policy from single values or lists."""
        return cls(_names(issuer), _names(audience), float(leeway), frozenset(required), mechanism)


def _names(value: str | Iterable[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(value)


def _invalid(message: str, reason: str, policy: ClaimsPolicy) -> InvalidTokenError:
    return InvalidTokenError(message, reason=reason, mechanism=policy.mechanism)


def _time(value: Any, name: str, policy: ClaimsPolicy) -> float:
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        if 0 <= value <= _MAX_TIME:
            return value  # type: ignore[no-any-return]
    else:
        raise _invalid(f"the token's {name!r} claim is not a number of seconds", "claims", policy)
    raise _invalid(f"the token's {name!r} claim is out of range", "claims", policy)


def check_claims(claims: Mapping[str, Any], policy: ClaimsPolicy, now: float) -> float | None:
    """Raise unless ``claims`` satisfy ``policy`` at ``now``; return ``exp`` (or None)."""
    for name in policy.required:
        if name not in claims:
            raise _invalid(f"the token lacks the required claim {name!r}", "claims", policy)
    leeway = policy.leeway
    exp = claims.get("exp")
    if exp is not None:
        exp = _time(exp, "exp", policy)
        if now >= exp + leeway:
            raise ExpiredTokenError("the token has expired", mechanism=policy.mechanism)
    nbf = claims.get("nbf")
    if nbf is not None and now + leeway < _time(nbf, "nbf", policy):
        raise _invalid("the token is not valid yet (nbf)", "not_yet_valid", policy)
    iat = claims.get("iat")
    if iat is not None and now + leeway < _time(iat, "iat", policy):
        raise _invalid("the token was issued in the future (iat)", "not_yet_valid", policy)
    issuers = policy.issuers
    if issuers:
        iss = claims.get("iss")
        if type(iss) is not str or iss not in issuers:
            raise _invalid("the token's issuer is not accepted", "issuer", policy)
    aud = claims.get("aud")
    audiences = policy.audiences
    if audiences:
        if type(aud) is str:
            if aud not in audiences:
                raise _invalid("the token is not meant for this audience", "audience", policy)
        elif type(aud) is list and aud and all(type(a) is str for a in aud):
            if audiences.isdisjoint(aud):
                raise _invalid("the token is not meant for this audience", "audience", policy)
        else:
            raise _invalid("the token names no valid audience", "audience", policy)
    elif aud is not None:
        raise _invalid(
            "the token names an audience but none is configured to accept", "audience", policy
        )
    jti = claims.get("jti")
    if jti is not None and type(jti) is not str:
        raise _invalid("the token's 'jti' claim is not text", "claims", policy)
    return exp


@dataclass(frozen=True, slots=True)
class ClaimsMapping:
    """Which claims carry the principal's parts.

    ``roles`` and ``scopes`` name claims holding a list of strings or one
    space-separated string, looked up in order (the first present wins); a dotted name
    reads a nested object (``realm_access.roles``). ``tenant`` names the tenant claim.
    """

    subject: str = "sub"
    roles: tuple[str, ...] = ("roles",)
    scopes: tuple[str, ...] = ("scope", "scp")
    tenant: tuple[str, ...] = ("tenant",)


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` in ``claims`` (None when absent)."""
    if "." not in path:
        return claims.get(path)
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _strings(
    claims: Mapping[str, Any], names: tuple[str, ...], what: str, mechanism: str
) -> frozenset[str]:
    for name in names:
        # (claim_at reads an undotted name the same way: the test only saves a call)
        value = claims.get(name) if "." not in name else claim_at(claims, name)  # pragma: no mutate
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            return frozenset(value.split())
        if kind is list:
            try:
                "".join(value)  # a C-speed check that every item is text
            except TypeError:
                pass
            else:
                return frozenset(value)
        raise InvalidTokenError(
            f"the token's {what} claim {name!r} is neither a string nor a list of strings",
            reason="claims",
            mechanism=mechanism,
        )
    return frozenset()


def to_principal(
    claims: Mapping[str, Any], mapping: ClaimsMapping, mechanism: str = "jwt"
) -> Principal:
    """The principal ``claims`` describe (they were checked by :func:`check_claims`)."""
    name = mapping.subject
    # (claim_at reads an undotted name the same way: the test only saves a call)
    subject = claims.get(name) if "." not in name else claim_at(claims, name)  # pragma: no mutate
    if type(subject) is not str or not subject:
        raise InvalidTokenError("the token names no subject", reason="claims", mechanism=mechanism)
    tenant: Any = None
    for name in mapping.tenant:
        dotted = "." in name  # pragma: no mutate  (claim_at reads an undotted name the same way)
        tenant = claim_at(claims, name) if dotted else claims.get(name)
        if tenant is not None:
            if type(tenant) is not str:
                raise InvalidTokenError(
                    "the token's tenant claim is not text", reason="claims", mechanism=mechanism
                )
            break
    return Principal(
        subject,
        _strings(claims, mapping.roles, "roles", mechanism),
        _strings(claims, mapping.scopes, "scopes", mechanism),
        tenant,
        mechanism,
        # (a copy of a dict reads the same: the test only saves the copy)
        MappingProxyType(claims if type(claims) is dict else dict(claims)),  # pragma: no mutate
        claims.get("iat"),
        claims.get("exp"),
    )
