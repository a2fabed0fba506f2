"""Keys, CSRs and certificates as PEM bytes (``cryptography``), and what a chain says.

:class:`CertificateBundle` is one domain's chain with its private key; its ``repr`` shows
the names and dates, never the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

from pymodular.modules.acme.errors import CertificateDataError

__all__ = (
    "CertificateBundle",
    "KeyType",
    "generate_key",
    "make_csr",
    "parse_bundle",
    "self_signed",
)

KeyType = Literal["ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"]


def generate_key(key_type: KeyType) -> bytes:
    """A new private key as unencrypted PKCS#8 PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if key_type == "ec256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "ec384":
        key = ec.generate_private_key(ec.SECP384R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_csr(key_pem: bytes, domains: list[str]) -> bytes:
    """A PEM certificate signing request for ``domains`` (the first is the common name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(key_pem, password=None)
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False
        )
    )
    csr = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return csr.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class CertificateBundle:
    """A certificate chain (leaf first) and its private key, with the leaf's facts."""

    fullchain_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    names: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    serial: str
    fingerprint: str
    """SHA-256 of the leaf's DER, hex."""
    issuer: str = ""
    placeholder: bool = False
    """A self-signed stand-in served until the first real certificate arrives."""

    @property
    def lifetime(self) -> dt.timedelta:
        """How long the leaf is valid in total."""
        return self.not_after - self.not_before

    def remaining(self, now: dt.datetime) -> dt.timedelta:
        """How long the leaf stays valid after ``now``."""
        return self.not_after - now

    def describe(self) -> dict[str, object]:
        """JSON-serialisable facts (no key)."""
        return {
            "names": list(self.names),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "serial": self.serial,
            "issuer": self.issuer,
            "placeholder": self.placeholder,
        }


def parse_bundle(
    fullchain_pem: bytes, key_pem: bytes, *, placeholder: bool = False
) -> CertificateBundle:
    """Read the leaf of ``fullchain_pem`` and check that ``key_pem`` belongs to it.

    Raises :class:`CertificateDataError` for anything that is not a PEM chain with a
    matching unencrypted private key (the message never quotes the key).
    """
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.utils import CryptographyDeprecationWarning

    try:
        with warnings.catch_warnings():
            # What RFC 5280 forbids (a serial that is not positive) is refused, not
            # warned about on every load.
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            chain = x509.load_pem_x509_certificates(fullchain_pem)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CertificateDataError(f"the certificate chain is not PEM: {exc}") from None
    except CryptographyDeprecationWarning as exc:
        raise CertificateDataError(f"the certificate is not valid under RFC 5280: {exc}") from None
    if not chain:
        raise CertificateDataError("the certificate chain holds no certificate")
    leaf = chain[0]
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise CertificateDataError(
            "the private key is not an unencrypted PEM key (its content is not shown)"
        ) from None
    try:
        # A damaged leaf parses lazily: its key, extensions or dates fail when first read.
        return _bundle(leaf, key, fullchain_pem, key_pem, placeholder=placeholder)
    except CertificateDataError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CertificateDataError(
            f"the certificate cannot be read ({type(exc).__name__}: {exc})"
        ) from None


def _bundle(
    leaf: Any, key: Any, fullchain_pem: bytes, key_pem: bytes, *, placeholder: bool
) -> CertificateBundle:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != leaf.public_key().public_bytes(der, public):
        raise CertificateDataError("the private key does not belong to the certificate")
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    issuer = leaf.issuer.rfc4514_string()
    return CertificateBundle(
        fullchain_pem=fullchain_pem,
        key_pem=key_pem,
        names=names,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        serial=format(leaf.serial_number, "x"),
        fingerprint=hashlib.sha256(leaf.public_bytes(der)).hexdigest(),
        issuer=issuer,
        placeholder=placeholder,
    )


def self_signed(domains: list[str], now: dt.datetime, days: int = 7) -> CertificateBundle:
    """A throw-away self-signed certificate for ``domains``, to serve until the CA's arrives."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return parse_bundle(
        certificate.public_bytes(serialization.Encoding.PEM), key_pem, placeholder=True
    )
