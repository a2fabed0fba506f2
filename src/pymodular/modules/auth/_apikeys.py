"""API keys: sent in a header, stored as SHA-256 hashes, with roles, tenant and validity.

Keys are random and long (:func:`generate_api_key` gives 256 bits), so a fast hash is
the right store (a password hash would only slow every request): the table holds
``sha256`` digests, never keys. A presented key is hashed and looked up by its digest;
the match is confirmed with a constant-time comparison. Rotation with overlap: add the
new key, give the old one an ``expires_at`` (``rotate`` does both); until then both work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pymodular.modules.auth._principal import Principal
from pymodular.modules.auth.errors import AuthConfigError, InvalidTokenError
from pymodular.secrets import Secret, register_secret

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = ("ApiKey", "ApiKeyAuthenticator", "generate_api_key", "hash_api_key")

_PREFIX = "sha256:"
_MAX_KEY_CHARS = 512


def generate_api_key(prefix: str = "pmk") -> str:
    """A new API key: ``prefix_`` and 43 characters of base64url (256 random bits)."""
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    register_secret(key)
    return key


def hash_api_key(key: str | Secret[str]) -> str:
    """The stored form of ``key``: ``sha256:<hex digest>`` (put this in configuration)."""
    value = key.reveal() if isinstance(key, Secret) else key
    return _PREFIX + hashlib.sha256(value.encode()).hexdigest()


def _digest_of(stored: str) -> bytes:
    if not stored.startswith(_PREFIX):
        raise AuthConfigError("an API key hash looks like 'sha256:<64 hex digits>'")
    try:
        digest = bytes.fromhex(stored[len(_PREFIX) :])
    except ValueError:
        raise AuthConfigError("an API key hash looks like 'sha256:<64 hex digits>'") from None
    if len(digest) != 32:
        raise AuthConfigError("an API key hash looks like 'sha256:<64 hex digits>'")
    return digest


@dataclass(frozen=True)
class ApiKey:
    """One accepted key: its id, its hash, what it grants and when it is valid.

    ``id`` names the key in logs, events and as the principal's subject
    (``api_key:<id>`` unless ``subject`` is given); the key itself is never kept.
    """

    id: str
    hash: str = field(repr=False)
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    tenant_id: str | None = None
    subject: str | None = None
    not_before: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    description: str = ""

    @classmethod
    def of(
        cls,
        id: str,  # noqa: A002 - the key's id, as configured
        *,
        key: str | Secret[str] | None = None,
        hash: str | None = None,  # noqa: A002
        roles: Iterable[str] = (),
        scopes: Iterable[str] = (),
        tenant_id: str | None = None,
        subject: str | None = None,
        not_before: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
        description: str = "",
    ) -> ApiKey:
        """A key from its plain text (hashed here) or its stored hash."""
        if (key is None) == (hash is None):
            raise AuthConfigError(f"API key {id!r}: give exactly one of key or hash")
        if key is not None:
            if isinstance(key, str):
                register_secret(key)
            hash = hash_api_key(key)  # noqa: A001
        assert hash is not None
        _digest_of(hash)
        return cls(
            id,
            hash,
            frozenset(roles),
            frozenset(scopes),
            tenant_id,
            subject,
            _utc(not_before),
            _utc(expires_at),
            description,
        )

    def valid_at(self, now: dt.datetime) -> bool:
        """Whether the key is accepted at ``now``."""
        if self.not_before is not None and now < self.not_before:
            return False
        return self.expires_at is None or now < self.expires_at

    def describe(self) -> dict[str, Any]:
        """Everything but the hash, for listings."""
        return {
            "id": self.id,
            "roles": sorted(self.roles),
            "scopes": sorted(self.scopes),
            "tenant_id": self.tenant_id,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class ApiKeyAuthenticator:
    """Authenticates requests carrying an API key in ``header`` (``X-API-Key``).

    Returns None when the header is absent; raises :class:`InvalidTokenError` for a key
    that matches nothing or is outside its validity. ``emit`` receives
    ``auth.api_key.rotated`` when :meth:`rotate` runs.
    """

    mechanism = "api_key"

    def __init__(
        self,
        keys: Iterable[ApiKey] = (),
        *,
        header: str = "X-API-Key",
        realm: str = "api",
        emit: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.header = header
        self._header_key = header.lower().encode("latin-1")
        self.challenge = f'APIKey realm="{realm}", header="{header}"'
        self._emit = emit or (lambda *_a, **_k: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._by_digest: dict[bytes, tuple[bytes, ApiKey, Principal]] = {}
        self.replace(keys)

    def replace(self, keys: Iterable[ApiKey]) -> None:
        """Make ``keys`` the accepted set (configuration reload)."""
        table: dict[bytes, tuple[bytes, ApiKey, Principal]] = {}
        ids: set[str] = set()
        for key in keys:
            if key.id in ids:
                raise AuthConfigError(f"two API keys have the id {key.id!r}")
            ids.add(key.id)
            digest = _digest_of(key.hash)
            if digest in table:
                raise AuthConfigError(
                    f"API keys {table[digest][1].id!r} and {key.id!r} are the same key"
                )
            principal = Principal.of(
                key.subject or f"api_key:{key.id}",
                roles=key.roles,
                scopes=key.scopes,
                tenant_id=key.tenant_id,
                expires_at=key.expires_at,
                mechanism=self.mechanism,
                claims={"api_key_id": key.id},
            )
            table[digest] = (digest, key, principal)
        with self._lock:
            self._by_digest = table

    @property
    def keys(self) -> list[ApiKey]:
        """The accepted keys."""
        return [entry[1] for entry in self._by_digest.values()]

    async def authenticate(self, request: HTTPConnection) -> Principal | None:
        """The key's principal, None without the header; raises for a key not accepted."""
        value = None
        name = self._header_key
        for key, raw in request.scope["headers"]:
            if key == name:
                value = raw
                break
        if value is None:
            return None
        return self.check(value)

    def check(self, presented: bytes | str) -> Principal:
        """The principal for the key ``presented``; raises :class:`InvalidTokenError`."""
        raw = presented.encode("latin-1") if isinstance(presented, str) else presented
        raw = raw.strip()
        if not raw or len(raw) > _MAX_KEY_CHARS:
            raise InvalidTokenError(
                "the API key is malformed", reason="malformed", mechanism=self.mechanism
            )
        digest = hashlib.sha256(raw).digest()
        entry = self._by_digest.get(digest)
        # The table is keyed by digests of random keys, which a caller cannot aim at;
        # the final comparison is constant-time all the same.
        if entry is None or not hmac.compare_digest(entry[0], digest):
            raise InvalidTokenError(
                "the API key is not known", reason="unknown_key", mechanism=self.mechanism
            )
        key = entry[1]
        timed = key.not_before is not None or key.expires_at is not None
        if timed and not key.valid_at(dt.datetime.fromtimestamp(self._clock(), dt.UTC)):
            raise InvalidTokenError(
                f"API key {key.id!r} is outside its validity",
                reason="expired",
                mechanism=self.mechanism,
                key_id=key.id,
            )
        return entry[2]

    def rotate(self, old_id: str, new: ApiKey, *, overlap: float) -> None:
        """Accept ``new`` now and ``old_id`` only ``overlap`` more seconds."""
        current = {k.id: k for k in self.keys}
        if old_id not in current:
            raise AuthConfigError(f"no API key has the id {old_id!r}")
        until = dt.datetime.fromtimestamp(self._clock() + overlap, dt.UTC)
        old = current[old_id]
        if old.expires_at is None or old.expires_at > until:
            current[old_id] = replace(old, expires_at=until)
        current[new.id] = new
        self.replace(current.values())
        self._emit("auth.api_key.rotated", old=old_id, new=new.id, old_expires_at=until.isoformat())

    def describe(self) -> dict[str, Any]:
        """The header and every key's id, grants and validity (never a hash)."""
        return {"header": self.header, "keys": [k.describe() for k in self.keys]}
