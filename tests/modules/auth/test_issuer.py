"""TokenIssuer: access and refresh tokens, rotation, reuse detection, revocation."""

from __future__ import annotations

import jwt as pyjwt
import pytest

from pymodular.modules.auth import (
    AuthConfigError,
    ExpiredTokenError,
    InvalidTokenError,
    JwtKey,
    TokenIssuer,
    TokenReuseError,
)
from tests.modules.auth.support import NOW, SECRET, clock, key_for


def issuer(
    alg: str = "HS256", **options: object
) -> tuple[TokenIssuer, list[tuple[str, dict[str, object]]]]:
    events: list[tuple[str, dict[str, object]]] = []
    made = TokenIssuer(
        key_for(alg),
        issuer="https://api.test",
        audience="notes",
        emit=lambda kind, **data: events.append((kind, data)),
        **options,  # type: ignore[arg-type]
    )
    return made, events


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_issued_access_tokens_carry_the_principal_and_verify_elsewhere(alg: str) -> None:
    made, events = issuer(alg)
    pair = made.issue(
        "user-7",
        roles=["editor"],
        scopes=["notes:read"],
        tenant_id="acme",
        claims={"email": "a@b.test"},
    )
    principal = made.verifier.verify(pair.access_token)
    assert (principal.subject, principal.roles, principal.scopes, principal.tenant_id) == (
        "user-7",
        {"editor"},
        {"notes:read"},
        "acme",
    )
    assert principal.claims["email"] == "a@b.test"
    assert pair.token_type == "Bearer"
    assert pair.expires_in == 900
    assert events[0][0] == "auth.token.issued"
    if alg.startswith("HS"):
        decoded = pyjwt.decode(
            pair.access_token, SECRET, algorithms=[alg], audience="notes", issuer="https://api.test"
        )
        assert decoded["sub"] == "user-7"


def test_a_refresh_token_is_not_an_access_token_and_vice_versa() -> None:
    made, _ = issuer()
    pair = made.issue("user-1")
    with pytest.raises(InvalidTokenError):
        made.verifier.verify(pair.refresh_token)
    with pytest.raises(InvalidTokenError):
        made.refresh(pair.access_token)


def test_refreshing_rotates_and_a_spent_refresh_token_revokes_the_family() -> None:
    made, events = issuer()
    first = made.issue("user-1", roles=["r"])
    second = made.refresh(first.refresh_token)
    assert made.verifier.verify(second.access_token).roles == {"r"}
    third = made.refresh(second.refresh_token)
    with pytest.raises(TokenReuseError):
        made.refresh(first.refresh_token)  # replayed: stolen, or a client bug
    with pytest.raises(InvalidTokenError, match="revoked"):
        made.refresh(third.refresh_token)  # the legitimate holder is logged out too
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "auth.token.issued",
        "auth.token.refreshed",
        "auth.token.refreshed",
        "auth.token.reuse_detected",
    ]
    # other sessions are untouched
    other = made.issue("user-1")
    assert made.refresh(other.refresh_token).access_token


def test_refresh_tokens_expire_and_sessions_can_be_ended() -> None:
    now = clock()
    made, _ = issuer(clock=now, refresh_ttl=3600.0)
    pair = made.issue("user-1")
    now.now = NOW + 3601
    with pytest.raises(ExpiredTokenError):
        made.refresh(pair.refresh_token)
    now.now = NOW
    pair = made.issue("user-1")
    made.revoke_family_of(pair.refresh_token)
    with pytest.raises(InvalidTokenError):
        made.refresh(pair.refresh_token)


def test_revoking_a_subject_refuses_its_access_tokens_even_from_the_cache() -> None:
    now = clock()
    made, _ = issuer(clock=now)
    pair = made.issue("user-1")
    assert made.verifier.verify(pair.access_token).subject == "user-1"
    made.revoke_subject("user-1")
    with pytest.raises(InvalidTokenError, match="revoked"):
        made.verifier.verify(pair.access_token)
    with pytest.raises(InvalidTokenError):
        made.refresh(pair.refresh_token)


def test_issuing_needs_a_private_key_and_positive_lifetimes() -> None:
    with pytest.raises(AuthConfigError, match="public"):
        TokenIssuer(key_for("RS256").public(), issuer="x")
    with pytest.raises(AuthConfigError):
        TokenIssuer(JwtKey.hmac(SECRET), issuer="x", access_ttl=0)
    with pytest.raises(AuthConfigError):
        TokenIssuer(key_for("HS256"), issuer="x", algorithm="RS256")


def test_token_pairs_do_not_show_their_tokens() -> None:
    made, _ = issuer()
    pair = made.issue("user-1")
    assert pair.access_token not in repr(pair)
    assert pair.refresh_token not in repr(pair)
    assert set(pair.as_dict()) == {"access_token", "refresh_token", "token_type", "expires_in"}
