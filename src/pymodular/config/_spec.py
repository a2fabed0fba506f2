"""``SectionSpec``: which model validates which section, and who owns it."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

__all__ = ("SectionSpec",)


@dataclass(frozen=True)
class SectionSpec:
    """One configuration section to collect and validate.

    ``name`` is the top-level key (``database``); ``model`` validates its value;
    ``module`` names the owner for error context. With ``instance_aware=True`` the
    section holds several named instances (FR-016) and its value becomes
    ``dict[str, model]``; ``env_prefix`` (default: the upper-cased name) is the
    environment token, so ``env_prefix="DB"`` reads ``DB_PRIMARY_DSN`` into instance
    ``primary``. For ordinary sections ``env_prefix`` replaces the section token in
    environment names (``DB__DSN`` instead of ``DATABASE__DSN``).
    """

    name: str
    model: type[BaseModel]
    module: str | None = None
    instance_aware: bool = False
    env_prefix: str | None = None

    def __post_init__(self) -> None:
        if not self.name or "." in self.name or self.name != self.name.strip():
            raise ValueError(f"invalid section name {self.name!r}: use a plain key without dots")
        if not (isinstance(self.model, type) and issubclass(self.model, BaseModel)):
            raise TypeError(f"section {self.name!r}: model must be a pydantic model class")

    @property
    def env_token(self) -> str:
        """The section's part of environment variable names (``DATABASE``, ``DB``)."""
        return (self.env_prefix or self.name).upper()
