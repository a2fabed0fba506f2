"""The ``auth`` module: who is calling, and may they.

::

    from pymodular.modules.auth import AuthModule, require_auth, require_roles

    app = Application([RouterModule(), AuthModule(), Notes(), HttpServerModule()])

    # in a module's init:
    self.router.get("/notes", middleware=[require_auth(scopes=["notes:read"])])(list_notes)

Bearer JWTs (HS/RS/PS/ES/EdDSA from PEM, JWK, JWK sets or a JWK set fetched and
refreshed over HTTP), OpenID Connect logins (authorization code + PKCE) into sessions
kept in a signed cookie or the cache, token issuing with refresh
rotation, API keys, custom authenticators, Argon2 password hashing, and route guards.
Needs the ``auth`` extra (``pip install "pymodular[auth]"``); the router integration
needs the ``http`` extra too.
"""

from pymodular.modules.auth._algorithms import ALGORITHMS
from pymodular.modules.auth._apikeys import (
    ApiKey,
    ApiKeyAuthenticator,
    generate_api_key,
    hash_api_key,
)
from pymodular.modules.auth._authenticator import (
    Authenticator,
    Authenticators,
    BearerAuthenticator,
)
from pymodular.modules.auth._claims import ClaimsMapping, ClaimsPolicy
from pymodular.modules.auth._failures import FailureReporter, RateLimit
from pymodular.modules.auth._issuer import RefreshFamilies, TokenIssuer, TokenPair
from pymodular.modules.auth._jwks import CombinedKeys, JwksKeySource
from pymodular.modules.auth._keys import JwtKey, KeyRing, KeySource, load_jwks
from pymodular.modules.auth._middleware import (
    AuthMiddleware,
    Guard,
    optional_auth,
    principal_of,
    require_auth,
    require_roles,
    require_scopes,
)
from pymodular.modules.auth._oidc import OidcProvider
from pymodular.modules.auth._password import PasswordHasher
from pymodular.modules.auth._principal import Principal, current_principal
from pymodular.modules.auth._revocation import Revocations
from pymodular.modules.auth._sessions import (
    CacheSessions,
    CookieSessions,
    SessionAuthenticator,
    Sessions,
    SessionStore,
    Signer,
)
from pymodular.modules.auth._verifier import JwtVerifier, VerifiedToken
from pymodular.modules.auth.config import (
    ApiKeyConfig,
    ApiKeysConfig,
    AuthConfig,
    FailureEventsConfig,
    IssuingConfig,
    JwtConfig,
    KeyConfig,
    OidcConfig,
    OidcProviderConfig,
    PasswordConfig,
    SessionsConfig,
)
from pymodular.modules.auth.errors import (
    AuthConfigError,
    AuthenticationError,
    ExpiredTokenError,
    ForbiddenError,
    InvalidTokenError,
    KeysUnavailableError,
    TokenReuseError,
    UnsupportedMechanismError,
)
from pymodular.modules.auth.module import Auth, AuthModule

__all__ = (
    "ALGORITHMS",
    "ApiKey",
    "ApiKeyAuthenticator",
    "ApiKeyConfig",
    "ApiKeysConfig",
    "Auth",
    "AuthConfig",
    "AuthConfigError",
    "AuthMiddleware",
    "AuthModule",
    "AuthenticationError",
    "Authenticator",
    "Authenticators",
    "BearerAuthenticator",
    "CacheSessions",
    "ClaimsMapping",
    "ClaimsPolicy",
    "CombinedKeys",
    "CookieSessions",
    "ExpiredTokenError",
    "FailureEventsConfig",
    "FailureReporter",
    "ForbiddenError",
    "Guard",
    "InvalidTokenError",
    "IssuingConfig",
    "JwksKeySource",
    "JwtConfig",
    "JwtKey",
    "JwtVerifier",
    "KeyConfig",
    "KeyRing",
    "KeySource",
    "KeysUnavailableError",
    "OidcConfig",
    "OidcProvider",
    "OidcProviderConfig",
    "PasswordConfig",
    "PasswordHasher",
    "Principal",
    "RateLimit",
    "RefreshFamilies",
    "Revocations",
    "SessionAuthenticator",
    "SessionStore",
    "Sessions",
    "SessionsConfig",
    "Signer",
    "TokenIssuer",
    "TokenPair",
    "TokenReuseError",
    "UnsupportedMechanismError",
    "VerifiedToken",
    "current_principal",
    "generate_api_key",
    "hash_api_key",
    "load_jwks",
    "optional_auth",
    "principal_of",
    "require_auth",
    "require_roles",
    "require_scopes",
)
