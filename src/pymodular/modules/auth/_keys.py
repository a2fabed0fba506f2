"""Signing and verification keys: HMAC secrets, PEM, JWK and JWK sets.

joserfc parses and validates the key formats and signs tokens; verification uses the
``cryptography`` key objects it holds through :mod:`._algorithms`. A :class:`JwtKey`
never shows its material: not in ``repr``, not in errors, and HMAC secrets and
private keys are registered for redaction the moment they are loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from pymodular.modules.auth._algorithms import (
    ALGORITHMS,
    HMAC_ALGORITHMS,
    Check,
    algorithms_for,
    checker,
    hmac_min_bytes,
)
from pymodular.modules.auth._jws import b64url_encode
from pymodular.modules.auth.errors import AuthConfigError
from pymodular.secrets import Secret, register_secret

__all__ = ("JwtKey", "KeyRing", "KeySource", "load_jwks")

_KTY = {"oct", "RSA", "EC", "OKP"}
_PRIVATE_MEMBERS = frozenset({"k", "d", "p", "q", "dp", "dq", "qi"})
_MIN_RSA_BITS = 2048


class JwtKey:
    """One key: its id, type, the algorithms it may verify, and its material (hidden).

    Build one with :meth:`hmac`, :meth:`from_pem`, :meth:`from_jwk` or :meth:`generate`.
    ``algorithms`` is the key's family narrowed by ``alg`` when given: a key never
    verifies an algorithm of another family (no HS256 with an RSA key, ever).
    """

    __slots__ = ("_checks", "_jose", "_material", "algorithms", "kid", "kty", "private")

    def __init__(self, jose_key: Any, *, kid: str | None = None, alg: str | None = None) -> None:
        kty = jose_key.key_type
        if kty not in _KTY:
            raise AuthConfigError(f"key type {kty!r} is not supported (oct, RSA, EC, OKP)")
        self._jose = jose_key
        self.kty: str = kty
        self.private: bool = kty == "oct" or bool(jose_key.is_private)
        if kty == "oct":
            material: Any = jose_key.raw_value
            register_secret(material)
        else:
            material = jose_key.public_key
            if kty == "RSA" and material.key_size < _MIN_RSA_BITS:
                raise AuthConfigError(
                    f"RSA key {kid or ''!r} has {material.key_size} bits; at least "
                    f"{_MIN_RSA_BITS} are required"
                )
        self._material = material
        family = algorithms_for(kty, material)
        alg = alg or jose_key.get("alg")
        if alg is not None:
            if alg not in family:
                raise AuthConfigError(
                    f"a {kty} key cannot be used with algorithm {alg!r} "
                    f"(it can do {', '.join(sorted(family)) or 'nothing supported'})"
                )
            family = frozenset((alg,))
        if kty == "oct":
            size = len(material)
            family = frozenset(a for a in family if size >= hmac_min_bytes(a))
            if not family:
                raise AuthConfigError(
                    f"the HMAC secret {kid or ''!r} is {size} bytes long; HS256 needs at least "
                    "32, HS384 48 and HS512 64 (RFC 7518 3.2)"
                )
        self.algorithms: frozenset[str] = family
        if kid is None:
            kid = jose_key.get("kid")
            if kid is None and kty != "oct":
                kid = jose_key.thumbprint()  # RFC 7638: a stable id for an unnamed key
        self.kid: str | None = kid
        self._checks: dict[str, Check] = {}

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def hmac(
        cls, secret: str | bytes | Secret[str], *, kid: str | None = None, alg: str | None = None
    ) -> JwtKey:
        """An HMAC key from a shared secret (text is UTF-8 encoded)."""
        from joserfc.jwk import OctKey

        value = secret.reveal() if isinstance(secret, Secret) else secret
        raw = value.encode() if isinstance(value, str) else bytes(value)
        if len(raw) < 32:
            raise AuthConfigError(
                f"the HMAC secret {kid or ''!r} is {len(raw)} bytes long; at least 32 are "
                "required (RFC 7518 3.2)"
            )
        register_secret(raw)
        register_secret(b64url_encode(raw))  # the form a JWK ("k") would show it in
        return cls(OctKey.import_key(raw), kid=kid, alg=alg)

    @classmethod
    def from_pem(
        cls,
        pem: str | bytes | Secret[str],
        *,
        kid: str | None = None,
        alg: str | None = None,
        password: str | bytes | None = None,
    ) -> JwtKey:
        """A key from PEM text: a public key, a certificate's key, or a private key."""
        from cryptography.hazmat.primitives import serialization

        value = pem.reveal() if isinstance(pem, Secret) else pem
        data = value.encode() if isinstance(value, str) else bytes(value)
        secret_pw = password.encode() if isinstance(password, str) else password
        try:
            if b"PRIVATE KEY" in data:
                register_secret(data)
                loaded: Any = serialization.load_pem_private_key(data, secret_pw)
            elif b"CERTIFICATE" in data:
                from cryptography import x509

                loaded = x509.load_pem_x509_certificate(data).public_key()
            else:
                loaded = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise AuthConfigError(
                f"key {kid or ''!r}: the PEM text is not a key ({type(exc).__name__})"
            ) from None
        return cls(_jose_from_crypto(loaded), kid=kid, alg=alg)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any] | str) -> JwtKey:
        """A key from a JWK (a dict or its JSON text); private members make it a signing key."""
        data = json.loads(jwk) if isinstance(jwk, str) else dict(jwk)
        if not isinstance(data, dict):
            raise AuthConfigError("a JWK must be a JSON object")
        kty = data.get("kty")
        if kty not in _KTY:
            raise AuthConfigError(f"JWK type {kty!r} is not supported (oct, RSA, EC, OKP)")
        if kty == "oct" or "d" in data:
            register_secret([v for k, v in data.items() if k in _PRIVATE_MEMBERS])
        from joserfc import jwk as jose

        try:
            key = jose.import_key(data, kty)
        except Exception as exc:  # noqa: BLE001 - joserfc raises many kinds for bad members
            raise AuthConfigError(
                f"JWK {data.get('kid', '')!r} cannot be loaded ({type(exc).__name__})"
            ) from None
        alg = data.get("alg")
        return cls(key, kid=data.get("kid"), alg=alg if isinstance(alg, str) else None)

    @classmethod
    def generate(cls, alg: str, *, kid: str | None = None) -> JwtKey:
        """A new random key for ``alg`` (RSA 2048 bits, the curve of an ES algorithm,
        Ed25519 for EdDSA, a secret as long as the hash for HS)."""
        from joserfc.jwk import ECKey, OKPKey, RSAKey

        if alg in HMAC_ALGORITHMS:
            import secrets

            return cls.hmac(secrets.token_bytes(hmac_min_bytes(alg)), kid=kid, alg=alg)
        if alg.startswith(("RS", "PS")):
            key: Any = RSAKey.generate_key(2048, private=True)
        elif alg in ("ES256", "ES384", "ES512"):
            key = ECKey.generate_key({"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg])
        elif alg in ("EdDSA", "Ed25519"):
            key = OKPKey.generate_key("Ed25519")
        elif alg == "Ed448":
            key = OKPKey.generate_key("Ed448")
        else:
            raise AuthConfigError(f"cannot generate a key for algorithm {alg!r}")
        return cls(key, kid=kid, alg=alg)

    # -- use ------------------------------------------------------------------------------

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's ``alg`` signature of ``signing_input``."""
        check = self._checks.get(alg)
        if check is None:
            if alg not in self.algorithms:
                return False
            check = self._checks[alg] = checker(alg, self._material)
        return check(signing_input, signature)

    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        """A compact JWS of ``claims`` (the header must name one of :attr:`algorithms`)."""
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthConfigError(f"key {self.kid!r} cannot sign with {alg!r}")
        if not self.private:
            raise AuthConfigError(f"key {self.kid!r} is a public key; it cannot sign")
        from joserfc import jwt

        if alg != "EdDSA":
            return jwt.encode(dict(header), dict(claims), self._jose, algorithms=[alg])
        # RFC 9864 names the Ed25519 algorithm "Ed25519" and deprecates "EdDSA", which
        # joserfc warns about; "EdDSA" is still what most verifiers expect, so it is
        # signed on request, without the warning.
        import warnings

        from joserfc.errors import SecurityWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            return jwt.encode(dict(header), dict(claims), self._jose, algorithms=[alg])

    @property
    def default_algorithm(self) -> str:
        """The algorithm this key signs with when none is named."""
        preferred = ("HS256", "RS256", "ES256", "ES384", "ES512", "EdDSA")
        for alg in preferred:
            if alg in self.algorithms:
                return alg
        return min(self.algorithms)

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK (for a JWKS document); HMAC secrets have none."""
        if self.kty == "oct":
            raise AuthConfigError("an HMAC secret has no public form to publish")
        data: dict[str, Any] = dict(self._jose.as_dict(private=False))
        data["use"] = "sig"
        if self.kid:
            data["kid"] = self.kid
        if len(self.algorithms) == 1:
            (data["alg"],) = self.algorithms
        return data

    def public(self) -> JwtKey:
        """This key without its private part (HMAC keys are returned as they are)."""
        if self.kty == "oct" or not self.private:
            return self
        return JwtKey.from_jwk(self.public_jwk())

    def __repr__(self) -> str:
        algs = ",".join(sorted(self.algorithms))
        kind = "private" if self.private and self.kty != "oct" else "public"
        kind = "secret" if self.kty == "oct" else kind
        return f"<JwtKey kid={self.kid!r} {self.kty} {kind} {algs}>"


def _jose_from_crypto(loaded: Any) -> Any:
    """The joserfc key wrapping a ``cryptography`` key object."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    if isinstance(loaded, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return RSAKey(loaded, loaded)
    if isinstance(loaded, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return ECKey(loaded, loaded)
    okp = (
        ed25519.Ed25519PrivateKey,
        ed25519.Ed25519PublicKey,
        ed448.Ed448PrivateKey,
        ed448.Ed448PublicKey,
    )
    if isinstance(loaded, okp):
        return OKPKey(loaded, loaded)
    raise AuthConfigError(f"{type(loaded).__name__} keys are not supported (RSA, EC, Ed25519)")


def load_jwks(document: Mapping[str, Any] | str, *, strict: bool = False) -> list[JwtKey]:
    """The signature keys of a JWK set (a dict or its JSON text).

    Keys for encryption (``use: enc``), of unknown types, or that fail to load are
    skipped, as RFC 7517 5 asks of a consumer; with ``strict`` they are errors instead.
    """
    data = json.loads(document) if isinstance(document, str) else document
    keys = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(keys, list):
        raise AuthConfigError("a JWK set is a JSON object with a 'keys' list")
    loaded: list[JwtKey] = []
    for item in keys:
        if not isinstance(item, Mapping):
            if strict:
                raise AuthConfigError("a JWK set entry is not a JSON object")
            continue
        if item.get("use", "sig") != "sig" or not _may_verify(item):
            continue
        alg = item.get("alg")
        if alg is not None and alg not in ALGORITHMS:
            if strict:
                raise AuthConfigError(f"JWK {item.get('kid')!r} names unsupported alg {alg!r}")
            continue
        try:
            loaded.append(JwtKey.from_jwk(item))
        except AuthConfigError:
            if strict:
                raise
    return loaded


def _may_verify(item: Mapping[str, Any]) -> bool:
    ops = item.get("key_ops")
    return ops is None or (isinstance(ops, list) and "verify" in ops)


class KeySource(Protocol):
    """Where a verifier finds keys: a static :class:`KeyRing` or a fetched JWK set.

    ``generation`` changes whenever keys are removed or replaced, so verified tokens
    cached under an older generation are checked again.
    """

    @property
    def generation(self) -> int: ...

    def candidates(self, kid: str | None, alg: str) -> Sequence[JwtKey]: ...


class KeyRing:
    """A fixed set of keys, looked up by key id and algorithm.

    A token naming a ``kid`` is checked with that key (or, failing that, with keys that
    have no id); a token without one with every key that can do its algorithm.
    """

    def __init__(self, keys: Iterable[JwtKey] = ()) -> None:
        self._generation = 0
        self._by_kid: dict[str, JwtKey] = {}
        self._unnamed: list[JwtKey] = []
        self._all: list[JwtKey] = []
        self.replace(keys)

    @property
    def generation(self) -> int:
        """Changes whenever the set changes."""
        return self._generation

    @property
    def keys(self) -> list[JwtKey]:
        """Every key, in the order given."""
        return list(self._all)

    def replace(self, keys: Iterable[JwtKey]) -> None:
        """Make ``keys`` the whole set."""
        all_keys = list(keys)
        by_kid: dict[str, JwtKey] = {}
        for key in all_keys:
            if key.kid is not None:
                if key.kid in by_kid:
                    raise AuthConfigError(f"two keys have the id {key.kid!r}")
                by_kid[key.kid] = key
        self._all = all_keys
        self._by_kid = by_kid
        self._unnamed = [k for k in all_keys if k.kid is None]
        self._generation += 1

    def add(self, key: JwtKey) -> None:
        """Add ``key`` to the set."""
        self.replace([*self._all, key])

    def candidates(self, kid: str | None, alg: str) -> Sequence[JwtKey]:
        """The keys that may have signed a token with ``kid`` and ``alg``."""
        if kid is not None:
            key = self._by_kid.get(kid)
            if key is not None:
                return (key,) if alg in key.algorithms else ()
            return [k for k in self._unnamed if alg in k.algorithms]
        return [k for k in self._all if alg in k.algorithms]

    def __len__(self) -> int:
        return len(self._all)

    def __repr__(self) -> str:
        return f"<KeyRing {[k.kid for k in self._all]!r}>"
