"""The ``acme`` module: certificates from an ACME CA (Let's Encrypt or a private one).

::

    from pymodular import Application
    from pymodular.modules.acme import AcmeModule
    from pymodular.modules.httpserver import HttpServerModule
    from pymodular.modules.router import RouterModule

    app = Application(
        [RouterModule(), AcmeModule(), HttpServerModule(), HttpServerModule(name="https")],
        config={
            "acme": {"email": "ops@example.com", "domains": ["example.com"]},
            "httpserver": {"port": 80},                                   # HTTP-01
            "https": {"port": 443, "tls": {"enabled": True, "provider": True}},
        },
    )

Certificates are obtained with certbot's ``acme`` library in worker threads, answered by
HTTP-01 on the router or DNS-01 through a :class:`DnsProvider`, stored with private
permissions, renewed before expiry (30 days, or a third of the lifetime when that is
less; ARI when the CA offers it) and handed to the HTTPS server without a restart.
Needs the ``acme`` extra (``pip install "pymodular[acme]"``); ``pymodular.modules.acme.pebble``
runs Debian's pebble test CA for end-to-end tests.
"""

from pymodular.modules.acme._certs import CertificateBundle
from pymodular.modules.acme._challenges import ChallengeSolver, DnsProvider
from pymodular.modules.acme._provider import AcmeCertificates
from pymodular.modules.acme._store import CertificateStore, FileStore, StoredCertificate
from pymodular.modules.acme._timing import RenewalPolicy, renewal_moment, renewal_window
from pymodular.modules.acme.config import AcmeConfig
from pymodular.modules.acme.errors import (
    AcmeError,
    AcmeOrderError,
    AcmeUnavailableError,
    CertificateDataError,
    CertificateStoreError,
    ChallengeError,
    RateLimitedError,
)
from pymodular.modules.acme.module import AcmeModule

__all__ = (
    "AcmeCertificates",
    "AcmeConfig",
    "AcmeError",
    "AcmeModule",
    "AcmeOrderError",
    "AcmeUnavailableError",
    "CertificateBundle",
    "CertificateDataError",
    "CertificateStore",
    "CertificateStoreError",
    "ChallengeError",
    "ChallengeSolver",
    "DnsProvider",
    "FileStore",
    "RateLimitedError",
    "RenewalPolicy",
    "StoredCertificate",
    "renewal_moment",
    "renewal_window",
)
