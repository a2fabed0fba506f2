"""One blocking ACME session over certbot's ``acme`` library (run it in a worker thread).

:class:`AcmeSession` connects to a directory, registers (or finds) the account of its
key, and offers the steps of an order as small blocking calls; :func:`translate` turns
whatever the library or the network raised into the module's error tree. The async
order flow (:mod:`._order`) calls these through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pymodular.modules._http import retry_after_seconds
from pymodular.modules.acme.errors import (
    AcmeOrderError,
    AcmeUnavailableError,
    ChallengeError,
    RateLimitedError,
)

if TYPE_CHECKING:
    import requests
    from acme import client as acme_client
    from acme import messages
    from josepy.jwa import JWASignature
    from josepy.jwk import JWK

__all__ = ("AcmeSession", "account_jwk", "translate")

USER_AGENT = "pymodular-acme"


def account_jwk(key_pem: bytes) -> tuple[JWK, JWASignature]:
    """The JWK of an account key PEM and the JWS algorithm it signs with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from josepy import jwa, jwk

    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithms = {256: jwa.ES256, 384: jwa.ES384, 521: jwa.ES512}
        return jwk.JWKEC(key=key), algorithms[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return jwk.JWKRSA(key=key), jwa.RS256
    raise AcmeOrderError("the account key must be an EC or RSA key")


LONGEST_RETRY_AFTER = dt.timedelta(days=7)
"""A server's Retry-After further away than this is taken as this (the longest rate-limit
window a public CA uses); a later one is a bug or hostile, and would stop renewal."""


def _retry_after(value: str | None, now: dt.datetime) -> dt.datetime | None:
    """The moment a Retry-After header (seconds or an HTTP date) names, at most
    :data:`LONGEST_RETRY_AFTER` after ``now``; None when absent or unreadable."""
    seconds = retry_after_seconds(value, now=now.timestamp)
    if seconds is None:
        return None
    if seconds >= LONGEST_RETRY_AFTER.total_seconds():  # inf included
        return now + LONGEST_RETRY_AFTER
    return now + dt.timedelta(seconds=seconds)


def translate(
    exc: BaseException, *, domain: str | None, retry_after: dt.datetime | None
) -> Exception:
    """The module's error for what the ``acme`` library or the network raised."""
    import josepy
    import requests
    from acme import errors as acme_errors
    from acme import messages

    if isinstance(exc, AcmeOrderError):
        return exc
    if isinstance(exc, messages.Error):
        code = exc.code or ""
        text = exc.detail or exc.description or code or "an error without detail"
        message = f"the ACME server refused the request: {text} ({exc.typ})"
        kind = RateLimitedError if code == "rateLimited" else AcmeOrderError
        return kind(message, acme_type=exc.typ, retry_after=retry_after, domain=domain)
    if isinstance(exc, acme_errors.ValidationError):
        details = [
            f"{challenge.chall.typ}: {challenge.error.detail}"
            for authzr in exc.failed_authzrs
            for challenge in authzr.body.challenges
            if challenge.error is not None
        ]
        return ChallengeError(
            "the CA could not validate the challenge: " + "; ".join(details),
            domain=domain,
        )
    if isinstance(exc, acme_errors.TimeoutError):
        return AcmeOrderError("the order did not complete in time", domain=domain)
    if isinstance(exc, acme_errors.IssuanceError):
        return AcmeOrderError(
            f"the CA did not issue the certificate: {exc.error.detail}",
            acme_type=exc.error.typ,
            domain=domain,
        )
    if isinstance(exc, josepy.errors.DeserializationError):
        return AcmeOrderError(
            f"the ACME server answered with a document that cannot be read: {exc}", domain=domain
        )
    if isinstance(exc, acme_errors.ClientError) and not isinstance(exc, acme_errors.NonceError):
        return AcmeOrderError(f"the ACME server answered unexpectedly: {exc}", domain=domain)
    if isinstance(exc, requests.RequestException | acme_errors.ClientError | OSError):
        reason = type(exc).__name__
        return AcmeUnavailableError(
            f"the ACME server could not be reached ({reason}); it is retried with backoff",
            domain=domain,
        )
    return AcmeOrderError(f"the ACME request failed: {type(exc).__name__}: {exc}", domain=domain)


def _network_class() -> type[acme_client.ClientNetwork]:
    from acme import client as acme_client

    class Network(acme_client.ClientNetwork):
        """Remembers the last answer's Retry-After, which the library does not keep."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.last_retry_after: str | None = None

        def _send_request(
            self, method: str, url: str, *args: Any, **kwargs: Any
        ) -> requests.Response:
            response = super()._send_request(method, url, *args, **kwargs)
            self.last_retry_after = response.headers.get("Retry-After")
            return response

    return Network


class AcmeSession:
    """A connection to an ACME directory as one account (blocking calls).

    ``ca_bundle`` is a PEM file of CAs trusted for the directory's HTTPS (None: the
    system's). :meth:`open` fetches the directory and registers the account key (an
    existing account of the key is found and used).
    """

    def __init__(
        self,
        directory_url: str,
        account_key_pem: bytes,
        *,
        email: str | None = None,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.directory_url = directory_url
        self._key, self._alg = account_jwk(account_key_pem)
        self.email = email
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.client: acme_client.ClientV2 | None = None
        self._network: Any = None
        self.account_uri: str | None = None
        self.created = False
        self._lock = threading.Lock()

    @property
    def key(self) -> JWK:
        """The account's JWK (private: for key authorizations only)."""
        return self._key

    def retry_after(self) -> dt.datetime | None:
        """The Retry-After of the last answer, as a moment."""
        network = self.client.net if self.client is not None else self._network
        if network is None:
            return None
        value = getattr(network, "last_retry_after", None)
        return _retry_after(value, dt.datetime.now(dt.UTC))

    def open(self, *, register: bool = True) -> None:
        """Fetch the directory and register the account (or find the key's account).

        ``register=False`` only fetches the directory: enough for renewal information,
        which is read without an account.
        """
        from acme import client as acme_client
        from acme import errors as acme_errors
        from acme import messages

        network = _network_class()(
            key=self._key,
            alg=self._alg,
            verify_ssl=True,
            user_agent=USER_AGENT,
            timeout=int(max(self.timeout, 1)),
        )
        if self.ca_bundle is not None:
            # requests takes a CA bundle path wherever it takes verify=True.
            network.verify_ssl = self.ca_bundle  # type: ignore[assignment]
        self._network = network
        directory = self._directory(network)
        client = acme_client.ClientV2(directory, network)
        if not register:
            self.client = client
            return
        registration = messages.NewRegistration.from_data(
            email=self.email, terms_of_service_agreed=True
        )
        try:
            account = client.new_account(registration)
            self.created = True
        except acme_errors.ConflictError as conflict:
            account = messages.RegistrationResource(
                uri=conflict.location, body=messages.Registration()
            )
            network.account = account
            self.created = False
        self.account_uri = account.uri
        self.client = client

    def _directory(self, network: Any) -> messages.Directory:
        """The directory document; one that is not JSON, or not an ACME directory (a
        list, wrong types), is an :class:`AcmeOrderError` saying so."""
        from acme import client as acme_client

        url = self.directory_url
        with _expecting(
            "an ACME directory", f"the ACME directory {url}", "check the directory URL"
        ):
            return acme_client.ClientV2.get_directory(url, network)

    def _client(self) -> acme_client.ClientV2:
        if self.client is None:
            raise AcmeOrderError("the ACME session is not open")
        return self.client

    def has_renewal_info(self) -> bool:
        """Whether the directory offers ACME Renewal Information."""
        client = self._client()
        try:
            client.directory["renewalInfo"]
        except KeyError:
            return False
        return True

    def new_order(self, csr_pem: bytes) -> messages.OrderResource:
        """Create an order for the CSR's names (with its authorizations)."""
        with _expecting("an order (with its authorizations)"):
            return self._client().new_order(csr_pem)

    def answer(self, challenge: messages.ChallengeBody, response: Any) -> None:
        """Tell the CA the challenge is ready."""
        with _expecting("a challenge"):
            self._client().answer_challenge(challenge, response)

    def poll(self, authorization: messages.AuthorizationResource) -> messages.AuthorizationResource:
        """The authorization's current state."""
        with _expecting("an authorization"):
            updated, _ = self._client().poll(authorization)
        return updated

    def finalize(self, order: messages.OrderResource) -> messages.OrderResource:
        """Send the CSR (the order must be ready)."""
        with _expecting("a finalized order"):
            return self._client().begin_finalization(order)

    def order_state(self, order: messages.OrderResource) -> messages.Order:
        """The order's current body."""
        from acme import messages

        client = self._client()
        with _expecting("an order"):
            response = client.net.post(order.uri, None, new_nonce_url=client.directory["newNonce"])
            state: messages.Order = messages.Order.from_json(response.json())
        return state

    def download(self, url: str) -> str:
        """The certificate chain (PEM) at ``url``."""
        client = self._client()
        response = client.net.post(url, None, new_nonce_url=client.directory["newNonce"])
        return str(response.text)

    def renewal_time(self, fullchain_pem: bytes) -> dt.datetime | None:
        """A moment in the CA's suggested renewal window (ARI), or None without ARI."""
        moment, _ = self._client().renewal_time(fullchain_pem)
        if moment is None:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)

    def __repr__(self) -> str:
        return f"AcmeSession({self.directory_url!r}, account={self.account_uri!r})"


@contextlib.contextmanager
def _expecting(what: str, who: str = "the ACME server", hint: str = "") -> Iterator[None]:
    """A CA's answer that is JSON of the wrong shape (a list, wrong types, missing fields)
    is an :class:`AcmeOrderError` naming what was expected, not the library's TypeError.
    The CA's problem documents and transport errors pass through unchanged."""
    import josepy
    import requests

    tail = f"; {hint}" if hint else ""
    try:
        yield
    except requests.exceptions.JSONDecodeError:
        raise AcmeOrderError(
            f"{who} answered with something that is not JSON; expected {what}{tail}"
        ) from None
    except requests.RequestException:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, josepy.errors.Error) as exc:
        raise AcmeOrderError(
            f"{who} answered with JSON that is not {what} ({type(exc).__name__}){tail}"
        ) from None
