"""Building the auth components from the ``auth`` configuration section (no I/O but files)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pymodular.modules.auth._apikeys import ApiKey
from pymodular.modules.auth._claims import ClaimsMapping, ClaimsPolicy
from pymodular.modules.auth._issuer import TokenIssuer
from pymodular.modules.auth._keys import JwtKey, KeySource, load_jwks
from pymodular.modules.auth._revocation import Revocations
from pymodular.modules.auth._verifier import JwtVerifier
from pymodular.modules.auth.config import ApiKeyConfig, IssuingConfig, JwtConfig, KeyConfig
from pymodular.modules.auth.errors import AuthConfigError

__all__ = ("api_keys_from", "issuer_from", "key_from", "static_keys", "verifier_from")


def key_from(config: KeyConfig, *, where: str) -> JwtKey:
    """The key one ``jwt.keys`` entry describes."""
    try:
        if config.secret is not None:
            return JwtKey.hmac(config.secret, kid=config.kid, alg=config.alg)
        if config.private_key is not None:
            return _from_text(config.private_key.reveal(), config)
        if config.public_key is not None:
            return _from_text(config.public_key, config)
        assert config.file is not None
        try:
            text = Path(config.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthConfigError(
                f"cannot read the key file {config.file!r}: {exc.strerror}"
            ) from None
        return _from_text(text, config)
    except AuthConfigError as exc:
        raise AuthConfigError(f"{where}: {exc.message}", field=where) from None


def _from_text(text: str, config: KeyConfig) -> JwtKey:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise AuthConfigError("the key is neither PEM nor JWK JSON") from None
        if config.kid is not None:
            data["kid"] = config.kid
        if config.alg is not None:
            data["alg"] = config.alg
        return JwtKey.from_jwk(data)
    return JwtKey.from_pem(stripped, kid=config.kid, alg=config.alg)


def static_keys(config: JwtConfig) -> list[JwtKey]:
    """Every key configured in place: ``jwt.keys`` and the inline ``jwt.jwks``."""
    keys = [key_from(k, where=f"auth.jwt.keys[{i}]") for i, k in enumerate(config.keys)]
    if config.jwks is not None:
        keys.extend(load_jwks(config.jwks, strict=True))
    return keys


def verifier_from(
    config: JwtConfig,
    keys: KeySource,
    *,
    extra_issuers: Iterable[str] = (),
    extra_audiences: Iterable[str] = (),
    revocations: Revocations,
    clock: Callable[[], float],
) -> JwtVerifier:
    """The bearer-token verifier the ``jwt`` section describes."""
    policy = ClaimsPolicy.of(
        issuer=[*config.issuer, *extra_issuers] or None,
        audience=[*config.audience, *extra_audiences] or None,
        leeway=config.leeway_seconds,
        required=config.required_claims,
    )
    mapping = ClaimsMapping(
        roles=tuple(config.roles_claims),
        scopes=tuple(config.scopes_claims),
        tenant=tuple(config.tenant_claims),
    )
    return JwtVerifier(
        keys,
        algorithms=config.algorithms or None,
        policy=policy,
        mapping=mapping,
        revocations=revocations,
        cache_size=config.cache_size,
        max_token_chars=config.max_token_chars,
        clock=clock,
    )


def issuer_from(
    config: IssuingConfig,
    keys: list[JwtKey],
    *,
    leeway: float,
    revocations: Revocations,
    emit: Callable[..., Any],
    clock: Callable[[], float],
) -> TokenIssuer:
    """The token issuer the ``issuing`` section describes, signing with one of ``keys``."""
    signing = [k for k in keys if k.private]
    if config.key is not None:
        signing = [k for k in signing if k.kid == config.key]
        if not signing:
            raise AuthConfigError(
                f"auth.issuing.key names {config.key!r}, but no jwt key with that kid has a "
                "secret or private key",
                field="auth.issuing.key",
            )
    if not signing:
        raise AuthConfigError(
            "auth.issuing needs a jwt key with a secret or a private key to sign with",
            field="auth.issuing",
        )
    return TokenIssuer(
        signing[0],
        issuer=config.issuer,
        audience=config.audience,
        algorithm=config.algorithm,
        access_ttl=config.access_ttl_seconds,
        refresh_ttl=config.refresh_ttl_seconds,
        leeway=leeway,
        revocations=revocations,
        emit=emit,
        clock=clock,
    )


def api_keys_from(configs: Iterable[ApiKeyConfig]) -> list[ApiKey]:
    """The API keys the ``api_keys.keys`` list describes."""
    return [
        ApiKey.of(
            c.id,
            key=c.key,
            hash=c.hash,
            roles=c.roles,
            scopes=c.scopes,
            tenant_id=c.tenant,
            subject=c.subject,
            not_before=c.not_before,
            expires_at=c.expires_at,
        )
        for c in configs
    ]
