"""What a schema is made of, found before any engine sees it (no I/O here).

One iterative walk over the schema finds its draft, its nesting depth, its ``$id``
resources and anchors, every ``$ref``, and where each subschema sits. From that:

- a ``$ref`` that points nowhere, or refs that loop without the document getting any
  deeper (``{"$ref": "#"}``, ``a -> b -> a``, ``{"allOf": [{"$ref": "#"}]}``), is a
  :class:`SchemaError` now, for every engine alike (one would loop forever, another
  call the schema vacuous);
- a schema whose evaluation can follow the document down without end (a ref cycle that
  does descend, as in a tree schema) is *recursive*: documents validated against it are
  checked for depth first, as the engines recurse once per level;
- references to other documents are listed, to be resolved under the fetch policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import unquote, urldefrag, urljoin

from pymodular.modules.jsonschema._issue import pointer
from pymodular.modules.jsonschema.errors import SchemaError

__all__ = ("DRAFTS", "Analysis", "Draft", "analyse", "children", "draft_of")

Draft = Literal["4", "6", "7", "2019-09", "2020-12"]
DRAFTS: tuple[Draft, ...] = get_args(Draft)

_DRAFT_URIS: dict[str, Draft] = {
    "json-schema.org/draft-04/schema": "4",
    "json-schema.org/draft-06/schema": "6",
    "json-schema.org/draft-07/schema": "7",
    "json-schema.org/draft/2019-09/schema": "2019-09",
    "json-schema.org/draft/2020-12/schema": "2020-12",
}
BUILTIN = ("http://json-schema.org/", "https://json-schema.org/")
"""Meta-schemas every engine carries: references to them are never fetched."""

# Keywords holding subschemas: whether the document stays where it is ("in place") or
# the evaluation moves down into it ("descend").
_SINGLE_IN_PLACE: tuple[str, ...] = ("not", "if", "then", "else")
_SINGLE_DESCEND: tuple[str, ...] = (
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_LIST_IN_PLACE: tuple[str, ...] = ("allOf", "anyOf", "oneOf")
_LIST_DESCEND: tuple[str, ...] = ("prefixItems",)
_MAP_IN_PLACE: tuple[str, ...] = ("dependentSchemas", "dependencies")
_MAP_DESCEND: tuple[str, ...] = ("properties", "patternProperties")
_MAP_STORE: tuple[str, ...] = ("$defs", "definitions")
_REFS: tuple[str, ...] = ("$ref", "$dynamicRef", "$recursiveRef")


def draft_of(document: Any, default: Draft, *, schema: str | None = None) -> Draft:
    """The draft ``document`` declares with ``$schema``, else ``default``."""
    declared = document.get("$schema") if isinstance(document, dict) else None
    if declared is None:
        return default
    if not isinstance(declared, str):
        raise SchemaError("$schema must be a string", schema=schema, pointer="/$schema")
    key = urldefrag(declared)[0].split("://", 1)[-1]
    found = _DRAFT_URIS.get(key)
    if found is None:
        known = ", ".join(f"https://{k}" for k in _DRAFT_URIS)
        raise SchemaError(
            f"unknown $schema {declared!r}; supported: {known}", schema=schema, pointer="/$schema"
        )
    return found


@dataclass
class Analysis:
    """What :func:`analyse` found."""

    draft: Draft
    base_uri: str
    recursive: bool = False
    external: set[str] = field(default_factory=set)
    """Absolute URIs (without fragment) of other documents the schema refers to."""


@dataclass
class _Walk:
    draft: Draft
    schema: str | None
    max_depth: int
    nodes: set[str] = field(default_factory=set)
    in_place: dict[str, list[str]] = field(default_factory=dict)
    descend: dict[str, list[str]] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    anchors: dict[tuple[str, str], str] = field(default_factory=dict)
    refs: list[tuple[str, str, str, str]] = field(default_factory=list)
    dynamic: bool = False


def analyse(
    document: Any,
    *,
    base_uri: str,
    draft: Draft,
    max_depth: int,
    schema: str | None = None,
) -> Analysis:
    """Walk ``document`` (a schema) and check its references; see the module docstring.

    Raises :class:`SchemaError` for nesting deeper than ``max_depth``, a ``$ref`` to
    nowhere and a reference loop; the error's ``pointer`` says where.
    """
    walk = _Walk(draft, schema, max_depth)
    found = Analysis(draft, base_uri)
    _walk(document, base_uri, walk)
    targets_in_place = walk.in_place
    for where, base, keyword, ref in walk.refs:
        target = _resolve(
            ref, keyword, base, document=document, walk=walk, where=where, found=found
        )
        if target is not None:
            targets_in_place.setdefault(where, []).append(target)
    loop = _cycle(walk.nodes, targets_in_place)
    if loop is not None:
        chain = " -> ".join(p or "#" for p in loop)
        raise SchemaError(
            f"the schema refers to itself without going deeper into the document: {chain}",
            schema=schema,
            pointer=loop[0],
        )
    both: dict[str, list[str]] = {}
    for graph in (targets_in_place, walk.descend):
        for node, children in graph.items():
            both.setdefault(node, []).extend(children)
    found.recursive = found.recursive or walk.dynamic or _cycle(walk.nodes, both) is not None
    return found


def _walk(document: Any, base_uri: str, walk: _Walk) -> None:
    id_key = "id" if walk.draft == "4" else "$id"
    walk.resources[base_uri] = ""
    stack: list[tuple[Any, str, str, int]] = [(document, "", base_uri, 1)]
    while stack:
        node, where, base, depth = stack.pop()
        walk.nodes.add(where)
        if not isinstance(node, dict):
            continue
        if depth > walk.max_depth:
            raise SchemaError(
                f"the schema nests deeper than {walk.max_depth} levels",
                schema=walk.schema,
                pointer=where,
            )
        base = _enter_resource(node, where, base, id_key, walk)
        for keyword in _REFS:
            ref = node.get(keyword)
            if isinstance(ref, str):
                walk.refs.append((where, base, keyword, ref))
                walk.dynamic = walk.dynamic or keyword != "$ref"
        for child_where, child, in_place in children(node, where):
            if in_place is not None:  # None: stored under $defs, not applied from here
                graph = walk.in_place if in_place else walk.descend
                graph.setdefault(where, []).append(child_where)
            stack.append((child, child_where, base, depth + 1))


def _enter_resource(node: dict[str, Any], where: str, base: str, id_key: str, walk: _Walk) -> str:
    declared = node.get(id_key)
    if isinstance(declared, str) and where:
        absolute, fragment = urldefrag(urljoin(base, declared))
        if declared.startswith("#"):
            walk.anchors[(base, fragment)] = where  # draft 4-7 plain-name fragment
        else:
            base = absolute
            walk.resources.setdefault(base, where)
    for anchor_key in ("$anchor", "$dynamicAnchor"):
        anchor = node.get(anchor_key)
        if isinstance(anchor, str):
            walk.anchors[(base, anchor)] = where
    return base


def children(node: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any, bool | None]]:
    for keyword in _SINGLE_IN_PLACE:
        if keyword in node and isinstance(node[keyword], dict | bool):
            yield f"{where}/{keyword}", node[keyword], True
    for keyword in _SINGLE_DESCEND:
        if keyword in node and isinstance(node[keyword], dict | bool):
            yield f"{where}/{keyword}", node[keyword], False
    items = node.get("items")
    if isinstance(items, dict | bool):
        yield f"{where}/items", items, False
    elif isinstance(items, list):
        for i, child in enumerate(items):
            yield f"{where}/items/{i}", child, False
    for keywords, in_place in ((_LIST_IN_PLACE, True), (_LIST_DESCEND, False)):
        for keyword in keywords:
            children = node.get(keyword)
            if isinstance(children, list):
                for i, child in enumerate(children):
                    yield f"{where}/{keyword}/{i}", child, in_place
    groups: tuple[tuple[tuple[str, ...], bool | None], ...] = (
        (_MAP_IN_PLACE, True),
        (_MAP_DESCEND, False),
        (_MAP_STORE, None),
    )
    for keywords, kind in groups:
        for keyword in keywords:
            children = node.get(keyword)
            if isinstance(children, dict):
                for name, child in children.items():
                    if isinstance(child, dict | bool):
                        yield f"{where}/{keyword}{pointer((name,))}", child, kind


def _resolve(
    ref: str,
    keyword: str,
    base: str,
    *,
    document: Any,
    walk: _Walk,
    where: str,
    found: Analysis,
) -> str | None:
    """The pointer ``ref`` reaches in this document; None when it leaves the document."""
    if keyword == "$recursiveRef":
        ref = "#"
    absolute = urljoin(base, ref)
    uri, fragment = urldefrag(absolute)
    if uri not in walk.resources:
        if not uri.startswith(BUILTIN):
            found.external.add(uri)
            found.recursive = True
        return None
    root = walk.resources[uri]
    if not fragment:
        return root
    if fragment.startswith("/"):
        target = root + pointer(_unescape(p) for p in unquote(fragment)[1:].split("/"))
        if target in walk.nodes:
            return target
        if _exists(document, target):
            found.recursive = True  # a schema outside the known keywords: stay careful
            return None
    elif (uri, fragment) in walk.anchors:
        return walk.anchors[(uri, fragment)]
    elif keyword == "$dynamicRef":
        return root
    raise SchemaError(
        f"{keyword} {ref!r} at {where or '#'} points to nothing in the schema",
        schema=walk.schema,
        pointer=where,
    )


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _exists(document: Any, target: str) -> bool:
    node = document
    for raw in target[1:].split("/") if target else ():
        part = _unescape(raw)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _cycle(nodes: set[str], edges: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle in the graph, as the list of nodes along it (first repeated at the end)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(nodes):
        if start in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(edges.get(start, ())))]
        state[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            seen = state.get(child)
            if seen == 1:
                return [*path[path.index(child) :], child]
            if seen is None:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(edges.get(child, ()))))
    return None
