"""Canonical text for type annotations, so that spelling does not look like a change.

``Optional[int]``, ``Union[int, None]`` and ``int | None`` all become ``int | None``;
``typing.List[str]`` becomes ``list[str]``; classes are named by their ``__qualname__``
(moving a class between private modules is not an API change). String annotations
(``from __future__ import annotations``) are parsed and rendered the same way, so an
annotation that cannot be evaluated still compares equal to one that can.
"""

from __future__ import annotations

import ast
import enum
import inspect
import types
import typing
from typing import Any

__all__ = ("annotation_text", "value_text")

_ALIASES = {
    "List": "list",
    "Dict": "dict",
    "Set": "set",
    "FrozenSet": "frozenset",
    "Tuple": "tuple",
    "Type": "type",
    "DefaultDict": "defaultdict",
    "Deque": "deque",
    "NoneType": "None",
}
_MAX_VALUE = 80


def annotation_text(annotation: Any) -> str | None:
    """The canonical text of ``annotation``; ``None`` when there is none."""
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is _EMPTY:
        return None
    if isinstance(annotation, str):
        return _text_from_source(annotation)
    return _text(annotation)


_EMPTY: Any = inspect.Parameter.empty


def _text(tp: Any) -> str:
    if tp is None or tp is type(None):
        return "None"
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, str):
        return _text_from_source(tp)
    if isinstance(tp, typing.ForwardRef):
        return _text_from_source(tp.__forward_arg__)
    if isinstance(tp, typing.TypeVar | typing.ParamSpec):
        return tp.__name__
    if isinstance(tp, list):
        return "[" + ", ".join(_text(t) for t in tp) + "]"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Annotated, typing.ClassVar, typing.Final):
        return _text(args[0]) if args else _name(tp)
    if origin in (typing.Union, types.UnionType):
        return _union([_text(a) for a in args])
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is not None:
        name = _name(origin)
        if not args:
            return name
        if name == "Callable" and len(args) == 2:
            params, result = args
            first = "..." if params is Ellipsis else _text(list(params))
            return f"Callable[{first}, {_text(result)}]"
        return f"{name}[{', '.join(_text(a) for a in args)}]"
    return _name(tp)


def _name(tp: Any) -> str:
    name = getattr(tp, "__qualname__", None) or getattr(tp, "__name__", None)
    if name is None:
        text = repr(tp)
        name = text.removeprefix("typing.").removeprefix("typing_extensions.")
    return _ALIASES.get(name, name)


def _union(parts: list[str]) -> str:
    flat: list[str] = []
    for part in parts:
        for item in _split_union(part):
            if item not in flat:
                flat.append(item)
    # None goes last: `int | None` however it was written.
    if "None" in flat:
        flat = [p for p in flat if p != "None"] + ["None"]
    return " | ".join(flat)


def _split_union(text: str) -> list[str]:
    """``"list[int | str] | None"`` -> ``["list[int | str]", "None"]`` (top level only)."""
    items: list[str] = []
    depth = 0
    current = ""
    for char in text:
        depth += char in "[("
        depth -= char in "])"
        if char == "|" and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return [i for i in items if i]


def _text_from_source(source: str) -> str:
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return source.strip()
    return _render(node)


def _render(node: ast.expr) -> str:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return "None"
        if node.value is Ellipsis:
            return "..."
        if isinstance(node.value, str):
            # A quoted forward reference inside an annotation: `list["Node"]`.
            return _text_from_source(node.value)
        return repr(node.value)
    if isinstance(node, ast.Name):
        return _ALIASES.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return _ALIASES.get(node.attr, node.attr)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([_render(node.left), _render(node.right)])
    if isinstance(node, ast.List):
        return "[" + ", ".join(_render(e) for e in node.elts) + "]"
    if isinstance(node, ast.Tuple):
        return ", ".join(_render(e) for e in node.elts)
    if isinstance(node, ast.Subscript):
        head = _render(node.value)
        inner = node.slice
        items = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if head == "Optional":
            return _union([_render(items[0]), "None"])
        if head == "Union":
            return _union([_render(i) for i in items])
        if head in ("Annotated", "ClassVar", "Final"):
            return _render(items[0])
        if head == "Literal":
            return "Literal[" + ", ".join(ast.unparse(i) for i in items) + "]"
        return f"{head}[{', '.join(_render(i) for i in items)}]"
    return ast.unparse(node)


def value_text(value: Any) -> str:
    """A short, stable text for a default value or constant (no memory addresses)."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if value is None or isinstance(value, bool | int | float | str | bytes):
        text = repr(value)
    elif isinstance(value, tuple | list | frozenset | set) and len(value) <= 8:
        inner = ", ".join(value_text(v) for v in value)
        if isinstance(value, tuple):
            text = f"({inner},)" if len(value) == 1 else f"({inner})"
        elif isinstance(value, list):
            text = f"[{inner}]"
        else:
            text = f"{type(value).__name__}({{{inner}}})" if value else f"{type(value).__name__}()"
    elif isinstance(value, type):
        text = _name(value)
    elif callable(value):
        text = f"<{getattr(value, '__qualname__', type(value).__name__)}>"
    else:
        text = f"<{type(value).__qualname__}>"
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 3] + "..."
    return text
