"""The ``Authenticator`` protocol, the ordered chain of them, and the bearer-token one.

An authenticator looks at a request and answers one of three ways:

- a :class:`Principal`: the request carries its kind of credential and it is good;
- ``None``: the request carries no credential of its kind (the next one is asked);
- raises an :class:`AuthenticationError`: a credential of its kind is there and bad.
  The chain stops there; a bad token is never "rescued" by another mechanism.

When every authenticator says None but the request has an ``Authorization`` header,
the chain raises :class:`UnsupportedMechanismError` (a scheme nobody here speaks).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pymodular.modules.auth._principal import Principal
from pymodular.modules.auth._verifier import JwtVerifier
from pymodular.modules.auth.errors import InvalidTokenError, UnsupportedMechanismError

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = ("Authenticator", "Authenticators", "BearerAuthenticator")


@runtime_checkable
class Authenticator(Protocol):
    """Turns a request's credential into a :class:`Principal` (see the module docstring).

    ``mechanism`` names it (``jwt``, ``api_key``, ``session``, or your own) in
    configuration (``auth.order``), events and principals. Provide yours as a service
    with this interface and the auth module finds it by type.
    """

    mechanism: str

    async def authenticate(self, request: HTTPConnection) -> Principal | None: ...


class Authenticators:
    """Several authenticators asked in order; the first principal wins."""

    def __init__(self, authenticators: Iterable[Authenticator] = ()) -> None:
        self._chain: tuple[Authenticator, ...] = tuple(authenticators)

    @property
    def chain(self) -> Sequence[Authenticator]:
        """The authenticators, in the order they are asked."""
        return self._chain

    @property
    def mechanisms(self) -> list[str]:
        """Their mechanism names, in order."""
        return [a.mechanism for a in self._chain]

    def replace(self, authenticators: Iterable[Authenticator]) -> None:
        """Ask ``authenticators`` from the next request on."""
        self._chain = tuple(authenticators)

    def challenges(self) -> list[str]:
        """``WWW-Authenticate`` challenges of the authenticators that have one."""
        found = []
        for authenticator in self._chain:
            challenge = getattr(authenticator, "challenge", None)
            if isinstance(challenge, str) and challenge not in found:
                found.append(challenge)
        return found

    def challenge_of(self, mechanism: str | None) -> str | None:
        """The challenge of the authenticator named ``mechanism``."""
        for authenticator in self._chain:
            if authenticator.mechanism == mechanism:
                challenge = getattr(authenticator, "challenge", None)
                return challenge if isinstance(challenge, str) else None
        return None

    async def authenticate(self, request: HTTPConnection) -> Principal | None:
        """The first principal an authenticator finds; None when the request has none."""
        for authenticator in self._chain:
            principal = await authenticator.authenticate(request)
            if principal is not None:
                return principal
        for key, value in request.scope["headers"]:
            if key == b"authorization":
                scheme = value.split(b" ", 1)[0][:20].decode("latin-1")
                raise UnsupportedMechanismError(
                    f"no authenticator accepts the authorization scheme {scheme!r}",
                    scheme=scheme,
                )
        return None


class BearerAuthenticator:
    """``Authorization: Bearer <JWT>`` checked by a :class:`JwtVerifier` (RFC 6750)."""

    def __init__(self, verifier: JwtVerifier, *, realm: str = "api") -> None:
        self.verifier = verifier
        self.mechanism = verifier.mechanism
        self.challenge = f'Bearer realm="{realm}"'

    async def authenticate(self, request: HTTPConnection) -> Principal | None:
        """The token's principal; None without a bearer ``Authorization`` header."""
        value = None
        for key, raw in request.scope["headers"]:
            if key == b"authorization":
                value = raw
                break
        if value is None:
            return None
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        text = token.strip().decode("latin-1")
        if not text:
            raise InvalidTokenError(
                "the bearer token is empty", reason="malformed", mechanism=self.mechanism
            )
        return await self.verifier.verify_async(text)
