"""Route paths with parameters, in the router's syntax: ``/users/{id}/orders``,
``/users/{id:int}``, ``/api/{rest:path}``.

Pure functions and one compiled object per route; nothing here does I/O.

- A template is matched on whole segments as a prefix, like a plain route path:
  ``/users/{id}/orders`` takes ``/users/7/orders`` and ``/users/7/orders/3``; a
  ``{name:path}`` parameter (only at the end) takes the rest of the path, slashes too.
- Converters are the router's: ``str`` (one segment, the default), ``int``, ``float``,
  ``uuid``, ``path``; their patterns are Starlette's (a test keeps them equal).
- Matching is done on the path as the client sent it (percent-encoding kept), so a
  captured value is forwarded exactly as received — ``a%2Fb`` stays one segment.
- The route is mounted on the router at the template's literal prefix (the segments
  before the first parameter); the template decides within that mount.
- ``rewrite`` is another template over the same parameters; the matched part of the
  path is replaced by it, what followed the match is kept, and so is the query.
"""

from __future__ import annotations

import re

__all__ = ("CONVERTERS", "PathTemplate", "check_rewrite", "check_template", "literal_prefix")

CONVERTERS = {
    "str": "[^/]+",
    "path": ".*",
    "int": "[0-9]+",
    "float": r"[0-9]+(\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
}
"""The router's path converters and the pattern each matches (Starlette's)."""

_PARAMETER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LITERAL = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$")


def _pieces(template: str) -> list[tuple[str, str, str]]:
    """``(literal before, name, converter)`` per parameter, then ``(tail, "", "")``;
    ValueError with the reason when the template is not valid."""
    if not template.startswith("/"):
        raise ValueError(f"{template!r} must start with '/'")
    pieces: list[tuple[str, str, str]] = []
    position = 0
    for found in _PARAMETER.finditer(template):
        literal = template[position : found.start()]
        name, _, converter = found.group(1).partition(":")
        converter = converter or "str"
        if not _NAME.match(name):
            raise ValueError(f"{template!r}: {name!r} is not a parameter name")
        if converter not in CONVERTERS:
            known = ", ".join(CONVERTERS)
            raise ValueError(f"{template!r}: unknown converter {converter!r} (known: {known})")
        if any(name == seen for _, seen, _ in pieces):
            raise ValueError(f"{template!r}: parameter {name!r} appears twice")
        pieces.append((literal, name, converter))
        position = found.end()
    tail = template[position:]
    for literal in [*(p[0] for p in pieces), tail]:
        if "{" in literal or "}" in literal or not _LITERAL.match(literal):
            raise ValueError(
                f"{template!r}: the fixed parts may hold letters, digits, '/' and "
                "-._~!$&'()*+,;=:@% only"
            )
    for index, (_, name, converter) in enumerate(pieces):
        if converter == "path" and (index != len(pieces) - 1 or tail):
            raise ValueError(f"{template!r}: a path parameter ({name!r}) must end the template")
    pieces.append((tail, "", ""))
    return pieces


def check_template(template: str) -> str:
    """``template`` without a trailing slash when valid; ValueError with the reason."""
    _pieces(template)
    if "//" in template:
        raise ValueError(f"{template!r} holds an empty segment ('//')")
    return template.rstrip("/") or "/"


def check_rewrite(rewrite: str, names: set[str]) -> None:
    """ValueError unless ``rewrite`` is a valid template using only ``names``."""
    for _, name, _ in _pieces(rewrite):
        if name and name not in names:
            raise ValueError(
                f"rewrite {rewrite!r} uses {{{name}}}, which the route path does not capture"
            )


def parameters(template: str) -> set[str]:
    """The parameter names of a valid template."""
    return {name for _, name, _ in _pieces(template) if name}


def literal_prefix(template: str) -> str:
    """The whole segments before the first parameter: where the route is mounted."""
    head = template.split("{", 1)[0]
    if head == template:
        return template.rstrip("/") or "/"
    return head.rsplit("/", 1)[0] or "/"


class PathTemplate:
    """A route path with parameters, compiled (see the module docstring)."""

    __slots__ = ("mount", "names", "regex", "rewrite", "template")

    def __init__(self, template: str, rewrite: str | None = None) -> None:
        pieces = _pieces(template)
        self.template = template
        self.mount = literal_prefix(template)
        pattern = "".join(
            re.escape(literal) + (f"(?P<{name}>{CONVERTERS[converter]})" if name else "")
            for literal, name, converter in pieces
        )
        ends_open = pieces[-2][2] == "path" if len(pieces) > 1 else False
        # Whole segments: the match ends at the path's end or before a '/'.
        self.regex = re.compile(pattern + ("" if ends_open else "(?=/|$)"))
        self.names = [name for _, name, _ in pieces if name]
        self.rewrite = _pieces(rewrite) if rewrite is not None else None

    def match(self, path: str) -> tuple[dict[str, str], int] | None:
        """The parameters (as sent) and where the match ends in ``path``, or None."""
        found = self.regex.match(path)
        if found is None:
            return None
        return {name: found.group(name) for name in self.names}, found.end()

    def rewritten(self, params: dict[str, str]) -> str:
        """The rewrite template filled with ``params``."""
        assert self.rewrite is not None
        return "".join(
            literal + (params[name] if name else "") for literal, name, _ in self.rewrite
        )
