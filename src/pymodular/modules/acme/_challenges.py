"""Answering ACME challenges: HTTP-01 on the router, DNS-01 through a DNS provider.

A :class:`ChallengeSolver` publishes what the CA will look for before the challenge is
answered and withdraws it afterwards, whatever the outcome.

- :class:`Http01Solver` keeps token → key authorization in memory and serves them as
  an ASGI app at ``/.well-known/acme-challenge/{token}`` (the module routes it on the
  router, so the running HTTP server answers; unknown tokens get 404).
- :class:`Dns01Solver` writes the TXT record ``_acme-challenge.<domain>`` through a
  :class:`DnsProvider` — any object with ``set_txt`` and ``clear_txt`` coroutines.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pymodular.modules.acme.errors import ChallengeError

if TYPE_CHECKING:
    from acme import messages
    from josepy.jwk import JWK

    from pymodular.modules._http import Receive, Scope, Send

__all__ = ("PREFIX", "ChallengeSolver", "Dns01Solver", "DnsProvider", "Http01Solver")

PREFIX = "/.well-known/acme-challenge/"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@runtime_checkable
class DnsProvider(Protocol):
    """Writes DNS-01 TXT records; plug one in as a service of this type.

    ``name`` is the full record name (``_acme-challenge.example.com``) and ``value`` the
    digest the CA expects. ``set_txt`` returns once the record is published where the
    CA's resolvers will see it (wait for propagation there); ``clear_txt`` removes that
    value.
    """

    async def set_txt(self, name: str, value: str) -> None: ...

    async def clear_txt(self, name: str, value: str) -> None: ...


class ChallengeSolver(ABC):
    """Publishes and withdraws what one challenge type needs."""

    kind: str
    """The ACME challenge type (``"http-01"`` ...)."""

    @abstractmethod
    async def publish(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> Any:
        """Make the challenge answerable; return the response to send to the CA."""

    @abstractmethod
    async def withdraw(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> None:
        """Remove what :meth:`publish` made (never raises for a missing record)."""


class Http01Solver(ChallengeSolver):
    """HTTP-01: key authorizations served from memory; the solver is the ASGI app."""

    kind = "http-01"

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.served = 0

    async def publish(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> Any:
        response, validation = challenge.response_and_validation(key)
        token = challenge.chall.encode("token")
        if not _TOKEN.fullmatch(token):
            raise ChallengeError(
                "the CA sent an HTTP-01 token that is not base64url",
                challenge=self.kind,
                domain=domain,
            )
        with self._lock:
            self._tokens[token] = str(validation)
        return response

    async def withdraw(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> None:
        token = challenge.chall.encode("token")
        with self._lock:
            self._tokens.pop(token, None)

    @property
    def pending(self) -> int:
        """Tokens currently published."""
        return len(self._tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``GET /.well-known/acme-challenge/{token}`` (404 for unknown tokens)."""
        path: str = scope.get("path", "")
        token = path.rsplit("/", 1)[-1]
        answer = self._tokens.get(token) if _TOKEN.fullmatch(token) else None
        if answer is None:
            body, status = b"not found\n", 404
        else:
            body, status = answer.encode("ascii"), 200
            self.served += 1
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""}
        )


class Dns01Solver(ChallengeSolver):
    """DNS-01: the TXT record written through a :class:`DnsProvider`."""

    kind = "dns-01"

    def __init__(self, provider: DnsProvider) -> None:
        self.provider = provider

    async def publish(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> Any:
        response, validation = challenge.response_and_validation(key)
        name = challenge.chall.validation_domain_name(domain.removeprefix("*."))
        await self.provider.set_txt(name, str(validation))
        return response

    async def withdraw(self, domain: str, challenge: messages.ChallengeBody, key: JWK) -> None:
        validation = challenge.chall.validation(key)
        name = challenge.chall.validation_domain_name(domain.removeprefix("*."))
        await self.provider.clear_txt(name, str(validation))
