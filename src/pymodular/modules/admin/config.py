"""Configuration of the ``admin`` section.

::

    admin:
      enabled: true
      token: ${env:ADMIN_TOKEN}
      path: /_admin
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = ("AdminConfig",)


class AdminConfig(ConfigModel):
    """The ``admin`` section: an operator's endpoint, off unless enabled, behind a token."""

    enabled: bool = field(False, description="Serve the admin endpoints")
    token: Secret[str] | None = field(
        None,
        description="Bearer token every admin request must present (required when enabled; "
        "at least 16 characters)",
    )
    path: str = field("/_admin", description="Prefix of the admin routes")
    port: int | None = field(
        None,
        description="Serve the admin routes on their own listener on this port (0: any free "
        "one) instead of on the application's router",
        ge=0,
        le=65535,
    )
    host: str = field("127.0.0.1", description="Address of the admin listener (with port)")
    events: int = field(100, description="Recent events an /events answer holds at most", ge=1)

    @model_validator(mode="after")
    def _guarded(self) -> Self:
        if not self.path.startswith("/") or self.path.endswith("/") or "{" in self.path:
            raise ValueError(f"admin path {self.path!r}: start with '/', no trailing '/'")
        if self.enabled and (self.token is None or len(self.token.reveal()) < 16):
            raise ValueError("admin.token of at least 16 characters is required when enabled")
        return self
