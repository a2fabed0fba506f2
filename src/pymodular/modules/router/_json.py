"""Reading JSON request bodies with clear 400/415/422 answers."""

from __future__ import annotations

import json
import sys
from typing import Any, TypeVar, overload

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from pymodular.modules._http import PROBLEM_CONTENT_TYPE, problem_body

__all__ = ("ProblemError", "field_errors", "problem", "read_json")

M = TypeVar("M", bound=BaseModel)


class ProblemError(HTTPException):
    """An HTTP error with extra problem members (``errors`` for validation failures)."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(status, detail)
        self.extra = extra


def problem(status: int, detail: str | None = None, **extra: Any) -> Response:
    """A problem+json :class:`~starlette.responses.Response` (RFC 9457)."""
    return Response(
        problem_body(status, detail, **extra),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE.decode(),
    )


@overload
async def read_json(request: Request) -> Any: ...
@overload
async def read_json(request: Request, model: type[M]) -> M: ...
async def read_json(request: Request, model: type[BaseModel] | None = None) -> Any:
    """The request's JSON body, validated against ``model`` when given.

    Raises (answered by the router's error middleware): 415 when the content type is
    not JSON, 400 when the body is empty or not valid JSON (with the position of the
    error; ``NaN``/``Infinity``, integers longer than Python converts and nesting deeper
    than Python's recursion limit count as invalid), 422 when it does not fit ``model``
    (with one entry per failing field).
    """
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415, f"expected an application/json body, got {media!r}")
    raw = await request.body()
    if not raw.strip():
        raise HTTPException(400, "the request body is empty; expected JSON")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise HTTPException(400, "the request body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(
            400, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise HTTPException(400, "invalid JSON: nested too deeply") from None
    except ValueError:  # an integer longer than the interpreter converts (4300 digits)
        raise HTTPException(
            400,
            f"invalid JSON: a number has more than {sys.get_int_max_str_digits()} digits",
        ) from None
    if model is None:
        return data
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ProblemError(
            422, "the request body is invalid", errors=field_errors(exc, "body")
        ) from None


def field_errors(
    exc: PydanticValidationError, source: str, name: str | None = None
) -> list[dict[str, Any]]:
    """One problem entry per failing field: ``{"in", "field", "message", "type"}``.

    ``field`` is the dotted path inside the value (``items.0.name``), prefixed by
    ``name`` for parameters; a whole body that fails is ``(body)``.
    """
    entries = []
    for err in exc.errors(include_url=False, include_input=False):
        path = [str(p) for p in err["loc"]]
        if name is not None:
            path.insert(0, name)
        entries.append(
            {
                "in": source,
                "field": ".".join(path) or f"({source})",
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return entries


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (RFC 8259) does not.
    raise HTTPException(400, f"invalid JSON: {name} is not a JSON value")
