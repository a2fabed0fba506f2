"""The httpserver's certificate provider: one ready TLS context per domain, swapped live.

:class:`AcmeCertificates` implements the httpserver's ``CertificateProvider``. Installing
a certificate writes it to the live directory (0700, files 0600, a new file name per
certificate), builds its server context, swaps it into the name table and tells the
listeners; the server reloads its default context in place and hands each handshake the
context of its server name. The handshake path is two dictionary lookups (the exact
name, then the wildcard of its parent), whatever the number of domains.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path

from pymodular.modules.acme._certs import CertificateBundle
from pymodular.modules.acme._store import private_directory, safe_name, write_private
from pymodular.modules.acme.errors import CertificateDataError
from pymodular.modules.httpserver import CertificateFiles

__all__ = ("AcmeCertificates",)

logger = logging.getLogger("pymodular.acme")

Listener = Callable[[], None]
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def server_context(files: CertificateFiles, min_version: str = "1.2") -> ssl.SSLContext:
    """A TLS server context serving ``files`` (HTTP/1.1 by ALPN)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = _VERSIONS[min_version]
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(str(files.cert_file), str(files.key_file))
    except (ssl.SSLError, OSError) as exc:
        raise CertificateDataError(
            f"cannot load the certificate {files.cert_file}: {exc}"
        ) from None
    return context


class AcmeCertificates:
    """Certificates by domain for the httpserver (``CertificateProvider``).

    ``certificate(None)`` is the default domain's files (the first configured domain);
    ``certificate(name)`` is the name's ready context, the wildcard's for a name under
    a wildcard domain, or None (the server then uses the default).
    """

    def __init__(self, live_directory: str | Path, *, min_version: str = "1.2") -> None:
        self.live = Path(live_directory).expanduser()
        self.min_version = min_version
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._files: dict[str, CertificateFiles] = {}
        self._bundles: dict[str, CertificateBundle] = {}
        self._listeners: list[Listener] = []
        self._challenges: dict[str, ssl.SSLContext] = {}
        self.default: str | None = None
        self.swaps = 0

    # -- CertificateProvider -----------------------------------------------------------
    def certificate(self, server_name: str | None) -> CertificateFiles | ssl.SSLContext | None:
        """The default files (``None``), a name's context, or None for "the default"."""
        if server_name is None:
            return self._files.get(self.default) if self.default is not None else None
        name = server_name.lower()
        if self._challenges:  # only while a TLS-ALPN-01 order runs
            challenge = self._challenges.get(name)
            if challenge is not None:
                return challenge
        context = self._contexts.get(name)
        if context is None:
            _, _, parent = name.partition(".")
            context = self._contexts.get("*." + parent)
        return context

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Run ``listener`` after every change; returns the unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- what the module does ----------------------------------------------------------
    def bundle(self, domain: str) -> CertificateBundle | None:
        """The certificate served for ``domain`` (None before the first one)."""
        return self._bundles.get(domain)

    def domains(self) -> list[str]:
        """The domains with a certificate."""
        return list(self._bundles)

    def install(self, domain: str, bundle: CertificateBundle) -> None:
        """Serve ``bundle`` for ``domain`` from the next handshake on.

        Raises :class:`CertificateDataError` when the files do not load; the previous
        certificate then stays.
        """
        folder = private_directory(self.live / safe_name(domain))
        stem = bundle.fingerprint[:16]
        files = CertificateFiles(folder / f"{stem}.fullchain.pem", folder / f"{stem}.key.pem")
        write_private(files.key_file, bundle.key_pem)
        write_private(files.cert_file, bundle.fullchain_pem)
        context = server_context(files, self.min_version)
        previous = self._files.get(domain)
        self._contexts = {**self._contexts, domain: context}
        self._files[domain] = files
        self._bundles[domain] = bundle
        if self.default is None:
            self.default = domain
        self.swaps += 1
        self._notify()
        if previous is not None and previous != files:
            self._forget(previous)

    def set_challenge(self, domain: str, context: ssl.SSLContext | None) -> None:
        """Serve a TLS-ALPN-01 validation context for ``domain`` (None: stop)."""
        challenges = dict(self._challenges)
        if context is None:
            challenges.pop(domain, None)
        else:
            challenges[domain] = context
        self._challenges = challenges
        self._notify()  # the server forgets what it cached per name

    def remove(self, domain: str) -> None:
        """Stop serving ``domain`` (its live files are deleted)."""
        files = self._files.pop(domain, None)
        self._bundles.pop(domain, None)
        self._contexts = {k: v for k, v in self._contexts.items() if k != domain}
        if self.default == domain:
            self.default = next(iter(self._files), None)
        self._notify()
        if files is not None:
            self._forget(files)

    def set_default(self, domains: Iterable[str]) -> None:
        """Make the first of ``domains`` that has a certificate the default."""
        for domain in domains:
            if domain in self._files:
                if domain != self.default:
                    self.default = domain
                    self._notify()
                return

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                logger.exception("certificate change listener failed")

    @staticmethod
    def _forget(files: CertificateFiles) -> None:
        for path in (files.cert_file, files.key_file):
            path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"AcmeCertificates({len(self._bundles)} domain(s), live={str(self.live)!r})"
