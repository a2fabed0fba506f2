"""The Starlette types handlers work with, re-exported by :mod:`pymodular.modules.router`."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ("HTTPException", "JSONResponse", "Request", "Response")
