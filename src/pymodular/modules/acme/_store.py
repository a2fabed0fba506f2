"""Where the account key and certificates live: the store ABC and the file store.

Every store passes ``tests/conformance/acme/``. A store holds PEM bytes by name: the
account key per ACME directory, and one certificate chain plus key per domain. Its
:meth:`CertificateStore.renewal_lock` lets only one replica renew a domain at a time (the
others see ``False`` and read the renewed certificate from the store afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from pymodular.modules.acme.errors import CertificateStoreError

__all__ = ("CertificateStore", "FileStore", "StoredCertificate", "directory_key", "safe_name")

_DIR_MODE = 0o700
_FILE_MODE = 0o600


@dataclass(frozen=True)
class StoredCertificate:
    """A domain's certificate chain and private key as stored (the key never shows)."""

    fullchain_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)


def directory_key(directory_url: str) -> str:
    """A short stable name for an ACME directory URL (accounts are per directory)."""
    return hashlib.sha256(directory_url.encode()).hexdigest()[:16]


def safe_name(domain: str) -> str:
    """A file-system-safe name for a validated domain (``*.x`` becomes ``_wildcard.x``)."""
    return domain.replace("*", "_wildcard")


class CertificateStore(ABC):
    """Keeps the account key and the certificates; shared by replicas when it can be."""

    @abstractmethod
    async def load_account_key(self, directory_url: str) -> bytes | None:
        """The account key PEM for ``directory_url``, or None when there is none yet."""

    @abstractmethod
    async def save_account_key(self, directory_url: str, key_pem: bytes) -> None:
        """Keep the account key PEM for ``directory_url`` unless one is kept already (the
        first writer wins: replicas starting together end up with one account)."""

    @abstractmethod
    async def load_certificate(self, domain: str) -> StoredCertificate | None:
        """The stored certificate of ``domain``, or None."""

    @abstractmethod
    async def save_certificate(self, domain: str, certificate: StoredCertificate) -> None:
        """Keep ``certificate`` as ``domain``'s (replacing the previous one atomically)."""

    @abstractmethod
    def renewal_lock(self, domain: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Hold the right to renew ``domain``; yields False when another holder has it."""

    async def close(self) -> None:  # noqa: B027 - optional: most stores hold nothing open
        """Release connections and locks (stores without any need nothing here)."""

    def describe(self) -> dict[str, object]:
        """Where the store keeps things (no secrets)."""
        return {"store": type(self).__name__}


def private_directory(path: Path) -> Path:
    """Create ``path`` 0700 (and every missing parent 0700), or tighten it when looser."""
    try:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir(mode=_DIR_MODE, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(_DIR_MODE)
    except OSError as exc:
        raise CertificateStoreError(
            f"cannot create the private directory {path}: {exc.strerror or exc}"
        ) from None
    return path


def private_tree(root: Path, folder: Path) -> Path:
    """Make ``root`` and every directory from it down to ``folder`` private (0700)."""
    private_directory(root)
    current = root
    for part in folder.relative_to(root).parts:
        current = private_directory(current / part)
    return folder


def write_private(path: Path, data: bytes, *, keep: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically (temp file, fsync, rename).

    ``keep``: leave an existing ``path`` as it is (the file appears whole or not at all).
    """
    private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{id(data):x}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if keep:
            try:
                os.link(temporary, path)  # fails when the file exists: the first writer wins
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        else:
            os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise CertificateStoreError(f"cannot write {path}: {exc.strerror or exc}") from None


def read_private(path: Path) -> bytes | None:
    """The bytes of ``path`` (None when missing); a file readable by others is tightened."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CertificateStoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(_FILE_MODE)
        return path.read_bytes()
    except OSError as exc:
        raise CertificateStoreError(f"cannot read {path}: {exc.strerror or exc}") from None


class FileStore(CertificateStore):
    """Files under one private directory::

        <root>/accounts/<directory hash>/account.key
        <root>/certificates/<domain>/fullchain.pem, privkey.pem
        <root>/locks/<domain>.lock

    Directories are 0700 and files 0600 (looser ones found are tightened); every write is
    atomic. The renewal lock is an ``flock`` on the lock file, so replicas sharing the
    directory (one host, or a file system with working locks) renew one at a time.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def _account(self, directory_url: str) -> Path:
        folder = self.root / "accounts" / directory_key(directory_url)
        return private_tree(self.root, folder) / "account.key"

    def _certificate(self, domain: str) -> Path:
        return private_tree(self.root, self.root / "certificates" / safe_name(domain))

    async def load_account_key(self, directory_url: str) -> bytes | None:
        return await asyncio.to_thread(lambda: read_private(self._account(directory_url)))

    async def save_account_key(self, directory_url: str, key_pem: bytes) -> None:
        def write() -> None:
            write_private(self._account(directory_url), key_pem, keep=True)

        await asyncio.to_thread(write)

    async def load_certificate(self, domain: str) -> StoredCertificate | None:
        def read() -> StoredCertificate | None:
            folder = self._certificate(domain)
            # The key is written first and the chain last, so a chain means a full pair.
            chain = read_private(folder / "fullchain.pem")
            key = read_private(folder / "privkey.pem")
            if chain is None or key is None:
                return None
            return StoredCertificate(chain, key)

        return await asyncio.to_thread(read)

    async def save_certificate(self, domain: str, certificate: StoredCertificate) -> None:
        def write() -> None:
            folder = self._certificate(domain)
            # Write both as new files, then swap them in: a reader never pairs the new
            # chain with the old key for longer than between two renames.
            write_private(folder / "privkey.pem.next", certificate.key_pem)
            write_private(folder / "fullchain.pem.next", certificate.fullchain_pem)
            try:
                os.replace(folder / "privkey.pem.next", folder / "privkey.pem")
                os.replace(folder / "fullchain.pem.next", folder / "fullchain.pem")
            except OSError as exc:
                raise CertificateStoreError(
                    f"cannot replace the certificate of {domain}: {exc.strerror or exc}",
                    domain=domain,
                ) from None

        await asyncio.to_thread(write)

    @contextlib.asynccontextmanager
    async def renewal_lock(self, domain: str) -> AsyncIterator[bool]:
        import fcntl

        path = self.root / "locks" / f"{safe_name(domain)}.lock"

        def acquire() -> int | None:
            private_tree(self.root, path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            return fd

        fd = await asyncio.to_thread(acquire)
        try:
            yield fd is not None
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def describe(self) -> dict[str, object]:
        return {"store": "files", "path": str(self.root)}

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"
