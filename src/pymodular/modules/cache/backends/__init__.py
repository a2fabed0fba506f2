"""The bundled cache engines, one file each: ``memory`` and ``redis``.

They are registered by import path in
:data:`~pymodular.modules.cache.CACHE_BACKENDS` and imported only when chosen (the
redis engine needs ``pip install "pymodular[redis]"``); import them from their own
modules (``pymodular.modules.cache.backends.memory``).
"""

__all__: tuple[str, ...] = ()
