"""Certificate stores beyond the file store: ``database`` (shared by replicas)."""

__all__ = ()
