"""Job store engines: ``memory`` (in process) and ``redis`` (shared between replicas)."""

__all__ = ()
