"""Validation engines, one file each, imported only when chosen (see ``_engine.ENGINES``)."""

__all__: tuple[str, ...] = ()
