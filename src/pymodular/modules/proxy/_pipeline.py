"""Sequential pipelines: a composite route's steps, each sent what the previous answer
says.

A step's ``path`` and ``headers`` may hold placeholders, filled per request:

==============================  =============================================================
``{previous.status}``           the previous step's status
``{previous.header.<name>}``    a header of the previous answer (the first one of the name)
``{previous.body.<a>.<b>}``     a field of the previous answer's JSON body; a number
                                indexes a list (``{previous.body.items.0.id}``)
``{params.<name>}``             a parameter of the route's path (``/users/{id}/...``)
==============================  =============================================================

Values put in a path are percent-encoded (a ``/`` or ``?`` in a value cannot change the
path's shape; path parameters go as the client encoded them); a value holding a control
character cannot go in a header. A placeholder
without a value (a missing field, an answer that is not JSON, a list or object where a
scalar is needed) fails the request with 502 naming the step.

Flow: the steps run in order. A step answering 5xx, or failing, ends the request with
502; a step answering 4xx ends it with that answer, as it is (the client learns the
backend's 404). ``empty_policy``: ``allow`` passes an empty answer on as the previous
one, ``skip`` passes it over (the next step sees the last answer with content), ``fail``
is 502. The client gets the last step's answer.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from pymodular.modules.proxy._composite import CompositeFailedError, CompositePart
from pymodular.modules.proxy._headers import PATH_PARAMS
from pymodular.modules.proxy.errors import UpstreamError

if TYPE_CHECKING:
    from pymodular.modules._http import Scope
    from pymodular.modules.proxy._composite import Caller
    from pymodular.modules.proxy._target import Upstream
    from pymodular.modules.proxy.config import CompositeConfig, PipelineStep

__all__ = ("check_placeholders", "placeholders", "run_pipeline")

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELD = re.compile(r"^[A-Za-z0-9_\-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def placeholders(text: str) -> list[tuple[str, str]]:
    """``(source, rest)`` of each placeholder: ``("previous", "body.id")``,
    ``("params", "id")``; ValueError for one that is not valid."""
    found = []
    for match in _PLACEHOLDER.finditer(text):
        source, _, rest = match.group(1).partition(".")
        if source == "params" and _FIELD.match(rest):
            found.append((source, rest))
            continue
        kind, _, name = rest.partition(".")
        if source == "previous" and (
            (kind == "status" and not name)
            or (kind == "header" and _FIELD.match(name))
            or (kind == "body" and name and all(_FIELD.match(p) for p in name.split(".")))
        ):
            found.append((source, rest))
            continue
        raise ValueError(
            f"{{{match.group(1)}}} is not a placeholder: use {{previous.status}}, "
            "{previous.header.<name>}, {previous.body.<field>...} or {params.<name>}"
        )
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise ValueError(f"{text!r} holds an unbalanced brace")
    return found


def check_placeholders(text: str) -> str:
    """``text`` when its placeholders are valid; ValueError otherwise."""
    placeholders(text)
    return text


class _StepError(Exception):
    pass


def _value(source: str, rest: str, previous: CompositePart | None, scope: Scope) -> str:
    if source == "params":
        params = scope.get(PATH_PARAMS) or {}
        if rest not in params:
            raise _StepError(f"the path has no parameter {rest!r}")
        return str(params[rest])
    if previous is None:
        raise _StepError("there is no previous answer")
    kind, _, name = rest.partition(".")
    if kind == "status":
        return str(previous.status)
    if kind == "header":
        wanted = name.lower().encode("latin-1")
        for key, value in previous.headers:
            if key == wanted:
                return value.decode("latin-1")
        raise _StepError(f"the previous answer has no {name!r} header")
    try:
        found: Any = json.loads(previous.body)
    except ValueError:
        raise _StepError("the previous answer is not JSON") from None
    for part in name.split("."):
        if isinstance(found, dict) and part in found:
            found = found[part]
        elif isinstance(found, list) and part.isdigit() and int(part) < len(found):
            found = found[int(part)]
        else:
            raise _StepError(f"the previous answer has no field {name!r}")
    if found is None or isinstance(found, (dict, list)):
        raise _StepError(f"field {name!r} of the previous answer is not a single value")
    return json.dumps(found) if isinstance(found, bool) else str(found)


def _fill(text: str, previous: CompositePart | None, scope: Scope, *, in_path: bool) -> str:
    def one(match: re.Match[str]) -> str:
        source, _, rest = match.group(1).partition(".")
        value = _value(source, rest, previous, scope)
        if source == "params":  # captured from the path as sent: encoded already
            if in_path:
                return value
            value = unquote(value)
        elif in_path:
            return quote(value, safe="")
        if _CONTROL.search(value):
            raise _StepError(f"{{{match.group(1)}}} holds a control character")
        return value

    return _PLACEHOLDER.sub(one, text)


def _step_request(
    step: PipelineStep, call: Caller, previous: CompositePart | None
) -> tuple[Scope, bytes, bytes | None]:
    """The scope, body and path (None: the route's) a step sends."""
    scope = call.scope
    headers = list(scope["headers"])
    body = call.body
    if step.body == "none":
        body = b""
    elif step.body == "previous":
        if previous is None:
            raise _StepError("there is no previous answer to send")
        body = previous.body
        media = next((v for k, v in previous.headers if k == b"content-type"), None)
        headers = [(k, v) for k, v in headers if k != b"content-type"]
        if media is not None:
            headers.append((b"content-type", media))
    if step.headers:
        names = {name.encode("latin-1") for name in step.headers}
        headers = [(k, v) for k, v in headers if k not in names]
        for name, value in step.headers.items():
            filled = _fill(value, previous, scope, in_path=False)
            headers.append((name.encode("latin-1"), filled.encode("latin-1", "replace")))
    path = step.path
    filled_path = _fill(path, previous, scope, in_path=True).encode("ascii") if path else None
    method = step.method or scope["method"]
    return {**scope, "method": method, "headers": headers}, body, filled_path


async def run_pipeline(
    call: Caller, upstreams: list[Upstream], config: CompositeConfig
) -> CompositePart:
    """Run the steps in order (see the module docstring); the answer for the client."""
    assert config.steps is not None
    previous: CompositePart | None = None
    last: CompositePart | None = None
    for number, (step, upstream) in enumerate(zip(config.steps, upstreams, strict=True), 1):
        label = f"step {number} ({upstream.name})"
        try:
            scope, body, path = _step_request(step, call, previous)
        except _StepError as exc:
            raise CompositeFailedError(f"{label} cannot be sent: {exc}") from None
        try:
            part = await call.with_request(scope, body, path)(upstream)
        except UpstreamError as exc:
            raise CompositeFailedError(f"{label} failed: {exc}") from None
        if part.status >= 500:
            raise CompositeFailedError(f"{label} answered {part.status}")
        if part.status >= 400:
            return part  # the client learns why the pipeline stopped
        if part.empty:
            if config.empty_policy == "fail":
                raise CompositeFailedError(f"{label} answered nothing")
            if config.empty_policy == "skip":
                continue
        previous = last = part
    if last is None:
        raise CompositeFailedError("every step answered nothing")
    return last
