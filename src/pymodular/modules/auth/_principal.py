"""``Principal``: who a request acts for, as every authenticator reports it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = ("EMPTY_CLAIMS", "Principal", "current_principal")

EMPTY_CLAIMS: Mapping[str, Any] = MappingProxyType({})


class Principal(NamedTuple):
    """An authenticated identity: subject, roles, scopes, tenant, validity, mechanism, claims.

    Immutable (verified principals are cached and shared between requests). ``claims``
    holds what the credential said (a token's payload, an API key's description); it
    is left out of ``repr`` because it may carry personal data. ``iat``/``exp`` are the
    validity in epoch seconds; :attr:`issued_at`/:attr:`expires_at` give them as
    datetimes (made on access, not on every verification).

    A handler parameter typed ``Principal`` receives the request's principal (the route
    then answers 401 to anonymous requests); ``Principal | None`` receives None for them::

        @router.get("/me")
        async def me(principal: Principal) -> dict[str, str]: ...

        principal.has_roles("admin")                 # every role given
        principal.has_roles("admin", "ops", any=True)
        principal.has_scopes("notes:read")
    """

    subject: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    tenant_id: str | None = None
    mechanism: str = "custom"
    claims: Mapping[str, Any] = EMPTY_CLAIMS
    iat: float | None = None
    exp: float | None = None

    @classmethod
    def of(
        cls,
        subject: str,
        *,
        roles: Iterable[str] = (),
        scopes: Iterable[str] = (),
        tenant_id: str | None = None,
        issued_at: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
        mechanism: str = "custom",
        claims: Mapping[str, Any] | None = None,
    ) -> Principal:
        """Build a principal from any iterables (custom authenticators use this)."""
        return cls(
            subject,
            frozenset(roles),
            frozenset(scopes),
            tenant_id,
            mechanism,
            MappingProxyType(dict(claims)) if claims else EMPTY_CLAIMS,
            issued_at.timestamp() if issued_at is not None else None,
            expires_at.timestamp() if expires_at is not None else None,
        )

    @property
    def issued_at(self) -> dt.datetime | None:
        """When the credential was issued (UTC), if it says."""
        return None if self.iat is None else dt.datetime.fromtimestamp(self.iat, dt.UTC)

    @property
    def expires_at(self) -> dt.datetime | None:
        """When the credential stops being valid (UTC), if it says."""
        return None if self.exp is None else dt.datetime.fromtimestamp(self.exp, dt.UTC)

    @classmethod
    def __from_request__(cls, scope: Any, *, optional: bool = False) -> Principal | None:
        """A handler parameter typed ``Principal`` gets the request's principal (401 when
        there is none); typed ``Principal | None``, None for anonymous requests."""
        from pymodular.modules.auth._middleware import principal_from_scope

        return principal_from_scope(scope, optional=optional)

    def has_roles(self, *roles: str, any: bool = False) -> bool:  # noqa: A002 - reads well
        """Whether the principal has every one of ``roles`` (``any=True``: at least one)."""
        if any:
            return not self.roles.isdisjoint(roles)
        return self.roles.issuperset(roles)

    def has_scopes(self, *scopes: str, any: bool = False) -> bool:  # noqa: A002
        """Whether the principal was granted every one of ``scopes`` (``any=True``: one)."""
        if any:
            return not self.scopes.isdisjoint(scopes)
        return self.scopes.issuperset(scopes)

    def __repr__(self) -> str:
        roles = ", ".join(sorted(self.roles))
        tenant = f", tenant_id={self.tenant_id!r}" if self.tenant_id else ""
        return f"Principal({self.subject!r}, mechanism={self.mechanism!r}, roles=[{roles}]{tenant})"


current_principal: ContextVar[Principal | None] = ContextVar("pymodular_principal", default=None)
"""The principal of the request being served (set by the auth middleware), or None."""
