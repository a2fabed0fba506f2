"""The built-in database backends, one file each (imported when a connection uses one)."""

__all__: tuple[str, ...] = ()
