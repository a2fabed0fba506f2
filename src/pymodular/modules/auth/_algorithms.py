"""Which algorithm goes with which kind of key, and the signature checks themselves.

A key verifies only the algorithms of its own family: an HMAC secret only ``HS*``, an
RSA key only ``RS*``/``PS*``, an EC key only the ``ES*`` of its curve, an OKP key only
``EdDSA`` (or its fully specified name). That rule, applied per key and not per token,
is what makes algorithm confusion impossible: an ``HS256`` token "signed" with an RSA
public key finds no HMAC key to check it with. ``none`` is in no family.

The checks call ``cryptography`` directly (no JOSE library in between) so a
verification costs the primitive and little else.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = (
    "ALGORITHMS",
    "ASYMMETRIC",
    "HMAC_ALGORITHMS",
    "Check",
    "algorithms_for",
    "checker",
)

Check = Callable[[bytes, bytes], bool]
"""``check(signing_input, signature) -> bool`` for one key and one algorithm."""

HMAC_ALGORITHMS: Mapping[str, str] = MappingProxyType(
    {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
)
_HMAC_MIN_BYTES = MappingProxyType({"HS256": 32, "HS384": 48, "HS512": 64})
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_BY_CURVE = MappingProxyType({"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"})
_EC_SIZES = MappingProxyType({"ES256": 32, "ES384": 48, "ES512": 66})
_OKP = ("EdDSA", "Ed25519", "Ed448")

ALGORITHMS: frozenset[str] = frozenset((*HMAC_ALGORITHMS, *_RSA, *_EC_BY_CURVE.values(), *_OKP))
"""Every algorithm a key can verify; ``none`` is not one of them and never will be."""

ASYMMETRIC: frozenset[str] = ALGORITHMS - frozenset(HMAC_ALGORITHMS)


def hmac_min_bytes(alg: str) -> int:
    """The shortest secret RFC 7518 allows for ``alg``: as long as the hash output."""
    return _HMAC_MIN_BYTES[alg]


def algorithms_for(kty: str, material: Any) -> frozenset[str]:
    """The algorithms a key of type ``kty`` can verify (``material``: its cryptography key)."""
    if kty == "oct":
        return frozenset(HMAC_ALGORITHMS)
    if kty == "RSA":
        return frozenset(_RSA)
    if kty == "EC":
        alg = _EC_BY_CURVE.get(material.curve.name)
        return frozenset((alg,)) if alg else frozenset()
    if kty == "OKP":
        from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey

        if isinstance(material, Ed448PublicKey):
            return frozenset(("EdDSA", "Ed448"))
        return frozenset(("EdDSA", "Ed25519"))
    return frozenset()


def checker(alg: str, material: Any) -> Check:
    """The signature check for ``alg`` with ``material`` (bytes for HMAC, else a public key)."""
    if alg in HMAC_ALGORITHMS:
        return _hmac_check(material, HMAC_ALGORITHMS[alg])
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes

    digests: dict[str, Callable[[], hashes.HashAlgorithm]] = {
        "256": hashes.SHA256,
        "384": hashes.SHA384,
        "512": hashes.SHA512,
    }
    digest = digests.get(alg[-3:])
    if alg.startswith(("RS", "PS")) and digest is not None:
        from cryptography.hazmat.primitives.asymmetric import padding

        hash_ = digest()
        pad: Any = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(digest()), salt_length=hash_.digest_size)
        )
        verify = material.verify

        def rsa_check(data: bytes, signature: bytes) -> bool:
            try:
                verify(signature, data, pad, hash_)
            except InvalidSignature:
                return False
            return True

        return rsa_check
    if alg in _EC_SIZES and digest is not None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        size = _EC_SIZES[alg]
        ecdsa = ec.ECDSA(digest())
        verify_ec = material.verify

        def ec_check(data: bytes, signature: bytes) -> bool:
            if len(signature) != 2 * size:  # JWS carries r || s, fixed width (RFC 7518 3.4)
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            try:
                verify_ec(encode_dss_signature(r, s), data, ecdsa)
            except InvalidSignature:
                return False
            return True

        return ec_check
    if alg in _OKP:
        verify_ed = material.verify

        def ed_check(data: bytes, signature: bytes) -> bool:
            try:
                verify_ed(signature, data)
            except InvalidSignature:
                return False
            return True

        return ed_check
    raise ValueError(f"no signature check for algorithm {alg!r}")


def _hmac_check(secret: bytes, hash_name: str) -> Check:
    digest = hmac.digest
    same = hmac.compare_digest

    def hmac_check(data: bytes, signature: bytes) -> bool:
        return same(digest(secret, data, hash_name), signature)

    return hmac_check
