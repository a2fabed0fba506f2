"""The ``HttpClients`` service: the named clients, by name (imports no third-party package)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pymodular.modules.httpclient.errors import UnknownClientError

if TYPE_CHECKING:
    import httpx

    from pymodular.modules.httpclient._clients import ClientEntry

__all__ = ("DEFAULT", "HttpClients")

DEFAULT = "default"
"""The client every configuration has."""


class HttpClients(Mapping[str, "httpx.AsyncClient"]):
    """The named clients (service ``"httpclients"``): ``clients.get("github")``.

    A mapping from client name to :class:`httpx.AsyncClient`; ``clients.default`` is
    the ``default`` client, also provided on its own as service ``"httpclient"``.
    """

    def __init__(self) -> None:
        self._entries: dict[str, ClientEntry] = {}

    def _add(self, entry: ClientEntry) -> None:
        self._entries[entry.name] = entry

    def entry(self, name: str) -> ClientEntry:
        """The :class:`ClientEntry` of client ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownClientError(
                f"no HTTP client named {name!r} is configured (configured: {known}); add "
                f"httpclient.{name} to the configuration"
            ) from None

    def __getitem__(self, name: str) -> httpx.AsyncClient:
        return self.entry(name).client

    def get(self, name: str = DEFAULT, default: Any = None) -> Any:
        """The client ``name`` (``default`` when omitted); raises for an unknown name
        unless ``default`` is given."""
        if default is not None and name not in self._entries:
            return default
        return self[name]

    @property
    def default(self) -> httpx.AsyncClient:
        """The ``default`` client."""
        return self[DEFAULT]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[ClientEntry]:
        """Every client entry."""
        return list(self._entries.values())

    async def aclose(self) -> None:
        """Close every client's connections."""
        for entry in self._entries.values():
            await entry.client.aclose()
