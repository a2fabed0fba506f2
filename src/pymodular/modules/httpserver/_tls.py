"""Certificates for the listener, and swapping them without a restart.

The server asks a :class:`CertificateProvider` for the certificate of each TLS
handshake's server name and listens for its change notifications. Configured files
are served through :class:`FileCertificateProvider`; an ACME module provides its own
implementation as a service and the server picks it up with ``tls.provider: true``.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from pymodular.modules.httpserver.errors import TLSConfigError
from pymodular.secrets import Secret

__all__ = ("CertificateFiles", "CertificateProvider", "FileCertificateProvider", "ServerTLS")

logger = logging.getLogger("pymodular.httpserver")

Listener = Callable[[], None]


@dataclass(frozen=True)
class CertificateFiles:
    """A PEM certificate chain and its private key on disk."""

    cert_file: Path
    key_file: Path
    password: Secret[str] | None = None


@runtime_checkable
class CertificateProvider(Protocol):
    """Hands certificates to the httpserver and tells it when they change.

    ``certificate(server_name)`` returns the files (or a ready server
    :class:`ssl.SSLContext`) for a TLS server name; ``None`` as the name asks for the
    default certificate, and ``None`` as the result means "use the default".
    ``subscribe(listener)`` registers a no-argument callable to run after every change
    and returns a function that unsubscribes it.
    """

    def certificate(self, server_name: str | None) -> CertificateFiles | ssl.SSLContext | None: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]: ...


class _Listeners:
    """A small thread-safe listener list (providers may renew in a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._items.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._items:
                    self._items.remove(listener)

        return unsubscribe

    def notify(self) -> None:
        with self._lock:
            items = list(self._items)
        for listener in items:
            try:
                listener()
            except Exception:
                logger.exception("certificate change listener failed")


class FileCertificateProvider:
    """One certificate for every server name, read from PEM files.

    :meth:`replace` points it at other files and :meth:`refresh` announces that the
    files were rewritten in place; either way the server loads them for new handshakes.
    """

    def __init__(
        self,
        cert_file: str | Path,
        key_file: str | Path,
        password: Secret[str] | None = None,
    ) -> None:
        self._files = CertificateFiles(Path(cert_file), Path(key_file), password)
        self._listeners = _Listeners()

    @property
    def files(self) -> CertificateFiles:
        """The files currently served."""
        return self._files

    def certificate(self, server_name: str | None) -> CertificateFiles:
        """The configured files, whatever the server name."""
        return self._files

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Run ``listener`` after every change."""
        return self._listeners.subscribe(listener)

    def replace(
        self, cert_file: str | Path, key_file: str | Path, password: Secret[str] | None = None
    ) -> None:
        """Serve other files from now on (checked before anyone is told)."""
        files = CertificateFiles(Path(cert_file), Path(key_file), password)
        load_context(files, "1.2")
        self._files = files
        self._listeners.notify()

    def refresh(self) -> None:
        """Announce that the files were rewritten in place."""
        self._listeners.notify()

    def __repr__(self) -> str:
        return f"FileCertificateProvider({str(self._files.cert_file)!r})"


_MAX_NAMED = 256
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def load_context(files: CertificateFiles, min_version: str) -> ssl.SSLContext:
    """A server context with ``files`` loaded; :class:`TLSConfigError` when they do not load."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = _VERSIONS[min_version]
    context.set_alpn_protocols(["http/1.1"])
    _load_chain(context, files)
    return context


def _load_chain(context: ssl.SSLContext, files: CertificateFiles) -> None:
    password = files.password.reveal() if files.password is not None else None
    try:
        context.load_cert_chain(str(files.cert_file), str(files.key_file), password)
    except FileNotFoundError as exc:
        raise TLSConfigError(
            f"TLS certificate or key file not found: {exc.filename}",
            field="httpserver.tls",
        ) from None
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(
            f"cannot load TLS certificate {files.cert_file} with key {files.key_file}: "
            f"{exc}. Check that both are PEM, that they belong together and the password",
            field="httpserver.tls",
        ) from None


class ServerTLS:
    """The listener's TLS context, following a provider's certificates.

    The listener keeps one front context for its lifetime. Its default certificate is
    reloaded in place when the provider announces a change; a server name with a
    certificate of its own gets that certificate's context during the handshake. New
    handshakes see changes at once; established connections keep what they agreed on.
    """

    def __init__(
        self,
        provider: CertificateProvider,
        min_version: str = "1.2",
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.provider = provider
        self.min_version = min_version
        self._on_change = on_change
        self._default = self._default_files()
        self.context = load_context(self._default, min_version)
        self.context.sni_callback = self._select
        self._by_name: dict[str, ssl.SSLContext] = {}
        self._unsubscribe = provider.subscribe(self.refresh)
        self.changes = 0

    def _default_files(self) -> CertificateFiles:
        found = self.provider.certificate(None)
        if isinstance(found, ssl.SSLContext):
            raise TLSConfigError(
                "the CertificateProvider must return CertificateFiles for the default "
                "certificate (an SSLContext is only accepted for a named server)",
                field="httpserver.tls",
            )
        if found is None:
            raise TLSConfigError(
                "TLS is enabled but the CertificateProvider has no default certificate yet",
                field="httpserver.tls",
            )
        return found

    def refresh(self) -> None:
        """Reload the default certificate and forget per-name contexts (a listener)."""
        try:
            files = self._default_files()
            _load_chain(self.context, files)
        except TLSConfigError as exc:
            logger.error("keeping the previous TLS certificate: %s", exc)
            return
        self._default = files
        self._by_name = {}
        self.changes += 1
        logger.info("TLS certificate reloaded from %s", files.cert_file)
        if self._on_change is not None:
            self._on_change()

    def _select(
        self, ssl_object: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        if server_name is None:
            return
        context = self._by_name.get(server_name)
        if context is None:
            try:
                found = self.provider.certificate(server_name)
                if found is None or found == self._default:
                    context = self.context
                elif isinstance(found, ssl.SSLContext):
                    context = found
                else:
                    context = load_context(found, self.min_version)
            except Exception:
                logger.exception("certificate lookup for %r failed; using the default", server_name)
                return
            if context is self.context:
                return  # not cached: hostile clients could send endless distinct names
            if len(self._by_name) >= _MAX_NAMED:
                self._by_name.clear()
            self._by_name[server_name] = context
        if context is not self.context:
            ssl_object.context = context

    def close(self) -> None:
        """Stop following the provider."""
        self._unsubscribe()
