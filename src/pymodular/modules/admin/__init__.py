"""The ``admin`` module: an operator's HTTP endpoints, off by default, behind a token.

::

    from pymodular.modules.admin import AdminModule

    app = Application([RouterModule(), AdminModule(), HttpServerModule(), ...],
                      feeders=[EnvFeeder(prefix="APP_")])   # APP_ADMIN__ENABLED, APP_ADMIN__TOKEN

Exported: the module and its configuration. See ``docs/observability.md``.
"""

from pymodular.modules.admin.config import AdminConfig
from pymodular.modules.admin.module import AdminModule

__all__ = ("AdminConfig", "AdminModule")
