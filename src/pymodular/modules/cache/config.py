"""Configuration of the ``cache`` section.

::

    cache:
      backend: redis               # memory (default) | redis | a registered engine
      default_ttl: 300             # seconds; null: keys never expire unless told
      redis:
        url: redis://cache.internal:6379/0
        password: ${REDIS_PASSWORD}
      local_tier: {enabled: true, ttl: 10}   # memory in front of Redis
      on_outage: local             # fail (default) | local

Environment (with an ``EnvFeeder`` prefix in front): ``CACHE_BACKEND=redis``,
``CACHE_REDIS__URL=...``. Dynamic fields (hot reload): ``default_ttl``, ``max_items``,
``max_value_bytes``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator

from pymodular.config import ConfigModel, Secret, field

__all__ = ("CacheConfig", "LocalTierConfig", "RedisConfig")

_PREFIX = re.compile(r"[A-Za-z0-9_.\-]{0,64}")


class RedisConfig(ConfigModel):
    """How the ``redis`` engine reaches its server."""

    url: Secret[str] | None = field(
        None,
        description="Server URL (redis://, rediss:// or unix://; default "
        "redis://127.0.0.1:6379/0); a password in it stays masked",
    )
    password: Secret[str] | None = field(
        None, description="Password, when not in the URL (this one wins)"
    )
    connect_timeout: float = field(1.0, description="Seconds to open a connection", gt=0)
    timeout: float = field(1.0, description="Seconds one command may take", gt=0)
    max_connections: int = field(50, description="Pooled connections at most", ge=1)
    retry_interval: float = field(
        0.5, description="Seconds between reconnection attempts while the server is down", gt=0
    )


class LocalTierConfig(ConfigModel):
    """A memory tier in front of the backend (two-tier cache)."""

    enabled: bool = field(False, description="Keep recently read values in process memory")
    max_items: int = field(10_000, description="Items the local tier holds at most", ge=1)
    ttl: float = field(
        10.0, description="Seconds a local copy lives at most (shorter when the key expires)", gt=0
    )
    invalidate: bool = field(
        True,
        description="Tell other replicas to drop their local copies on every write "
        "(Redis pub/sub); without it they see changes only after `ttl`",
    )


class CacheConfig(ConfigModel):
    """The ``cache`` section."""

    backend: str = field("memory", description="Engine: memory, redis, or a registered one")
    key_prefix: str = field(
        "",
        description="Prefix of every key, so apps can share a server; "
        "empty: the application's name",
    )
    default_ttl: float | None = field(
        300.0,
        description="Seconds a value lives when `set` is given no ttl; null: no expiry",
        gt=0,
        dynamic=True,
    )
    max_items: int = field(
        10_000,
        description="Memory engine: items at most (least recently used go)",
        ge=1,
        dynamic=True,
    )
    expiry_interval: float = field(
        60.0, description="Memory engine: seconds between sweeps of expired keys", gt=0
    )
    max_value_bytes: int = field(
        1_048_576, description="Largest serialized value accepted", ge=1, dynamic=True
    )
    max_key_length: int = field(
        512, description="Longest key accepted, in characters (prefix excluded)", ge=1, le=65536
    )
    on_outage: Literal["fail", "local"] = field(
        "fail",
        description="While the backend is unreachable: fail (raise CacheUnavailableError "
        "at once) or local (serve from a process-local memory tier)",
    )
    redis: RedisConfig = field(default_factory=RedisConfig, description="The redis engine")
    local_tier: LocalTierConfig = field(
        default_factory=LocalTierConfig, description="Two-tier cache: memory in front"
    )

    @field_validator("key_prefix")
    @classmethod
    def _prefix_charset(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value):
            raise ValueError("key_prefix takes at most 64 letters, digits, '_', '.' and '-'")
        return value
