"""What the showcase's route modules share: the guards, the caller's tenant, UTC times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymodular.modules.auth import require_auth
from pymodular.modules.router import HTTPException
from pymodular.tenancy import current_tenant_id

__all__ = ("AUTH_ERRORS", "READ", "WRITE", "request_tenant", "utc")

READ = require_auth(scopes=["tasks:read"])
"""Guard of the routes that read: a credential with the scope ``tasks:read``."""
WRITE = require_auth(scopes=["tasks:write"])
"""Guard of the routes that change something: the scope ``tasks:write``."""
AUTH_ERRORS: dict[int | str, Any] = {
    401: {"description": "no credential, or one that is not accepted"},
    403: {"description": "the credential lacks the scope, or acts for no tenant"},
}


def request_tenant() -> str:
    """The tenant of the request (the router set it from the principal)."""
    found = current_tenant_id()
    if found is None:
        raise HTTPException(403, "this credential acts for no tenant")
    return found


def utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
