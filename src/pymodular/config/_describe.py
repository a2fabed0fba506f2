"""Field descriptions (FR-040) and the per-model field tree used for lookups."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo as PydanticFieldInfo

from pymodular.config._model import field_flags
from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._spec import SectionSpec
from pymodular.config._types import is_json_like, model_of, type_name
from pymodular.secrets import MASK

__all__ = ("FieldInfo", "Node", "describe_fields", "env_names", "model_tree")

INSTANCE = "*"
"""Stands for the instance name in paths of instance-aware sections."""


@dataclass(frozen=True)
class FieldInfo:
    """What a user needs to know about one configuration field.

    ``path`` is dotted from the section (``database.pool.size``; ``*`` stands for the
    instance name of instance-aware sections). ``default`` is :data:`NOT_GIVEN` when the
    field is required and the mask when it is secret. ``env`` lists the environment
    variables that set it, in lookup order, for an ``EnvFeeder`` with the given prefix.
    """

    path: str
    name: str
    type: str
    default: Any
    required: bool
    dynamic: bool
    secret: bool
    description: str
    env: tuple[str, ...]
    examples: tuple[Any, ...]
    section: str | None = None
    module: str | None = None
    annotation: Any = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (the CLI prints this)."""
        default = None if self.default is NOT_GIVEN else self.default
        return {
            "path": self.path,
            "type": self.type,
            "default": default if _is_plain(default) else str(default),
            "required": self.required,
            "dynamic": self.dynamic,
            "secret": self.secret,
            "description": self.description,
            "env": list(self.env),
            "examples": [e if _is_plain(e) else str(e) for e in self.examples],
        }


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


@dataclass(eq=False)
class Node:
    """One field in a model's tree: a leaf, or a nested model with ``children``."""

    name: str
    rel: tuple[str, ...]
    annotation: Any
    info: PydanticFieldInfo | None
    secret: bool
    dynamic: bool
    env: str | None
    default: Any
    required: bool
    children: dict[str, Node] | None = None
    leaves: tuple[Node, ...] = ()

    @property
    def json_like(self) -> bool:
        """Whether one environment variable carries this value as JSON."""
        return is_json_like(self.annotation)


def model_tree(model: type[BaseModel]) -> Node:
    """The cached field tree of ``model`` (children keyed by field name and alias)."""
    return _tree(model)


@functools.cache
def _tree(model: type[BaseModel]) -> Node:
    root = Node(
        name="",
        rel=(),
        annotation=model,
        info=None,
        secret=False,
        dynamic=False,
        env=None,
        default=NOT_GIVEN,
        required=True,
    )
    leaves: list[Node] = []
    root.children = _children(model, (), root, leaves, frozenset({model}))
    root.leaves = tuple(leaves)
    return root


def _children(
    model: type[BaseModel],
    prefix: tuple[str, ...],
    parent: Node,
    leaves: list[Node],
    seen: frozenset[type[BaseModel]],
) -> dict[str, Node]:
    out: dict[str, Node] = {}
    parent_default = parent.default
    for name, info in model.model_fields.items():
        dynamic, secret, env = field_flags(info)
        if isinstance(parent_default, BaseModel):
            default: Any = getattr(parent_default, name, NOT_GIVEN)
        elif info.is_required():
            default = NOT_GIVEN
        else:
            default = info.get_default(call_default_factory=True)
        node = Node(
            name=name,
            rel=(*prefix, name),
            annotation=info.annotation,
            info=info,
            secret=secret or parent.secret,
            dynamic=dynamic or parent.dynamic,
            env=env,
            default=default,
            required=default is NOT_GIVEN and parent.required,
        )
        nested = model_of(info.annotation)
        if nested is not None and nested not in seen:
            node.children = _children(nested, node.rel, node, leaves, seen | {nested})
        else:
            leaves.append(node)
        out[name] = node
        if info.alias and info.alias != name:
            out[info.alias] = node
    return out


def env_names(
    spec: SectionSpec,
    node: Node,
    *,
    prefix: str = "",
    suffix: str = "",
    delimiter: str = "__",
    instance: str = "<INSTANCE>",
) -> tuple[str, ...]:
    """Environment variable names for ``node``, in lookup order (first set wins).

    1. the field's explicit ``env=`` name, verbatim;
    2. ``{prefix}{SECTION}{delimiter}{FIELD}[{delimiter}{SUB}...]{suffix}``;
    3. ``{prefix}{SECTION}_{FIELD}[{delimiter}{SUB}...]{suffix}`` (the module-style
       short form, ``HTTPSERVER_PORT``).

    Instance-aware sections use ``{prefix}{ENV_PREFIX}_{INSTANCE}_{FIELD}{suffix}``, with
    ``instance`` (upper-cased) for ``{INSTANCE}``; other sections ignore ``instance``.
    """
    body = delimiter.join(part.upper() for part in node.rel)
    token = spec.env_token
    if spec.instance_aware:
        return (f"{prefix}{token}_{instance.upper()}_{body}{suffix}",)
    names = [node.env] if node.env else []
    names.append(f"{prefix}{token}{delimiter}{body}{suffix}")
    names.append(f"{prefix}{token}_{body}{suffix}")
    return tuple(names)


def describe_fields(
    target: type[BaseModel] | SectionSpec | Sequence[SectionSpec],
    *,
    env_prefix: str = "",
    env_suffix: str = "",
) -> list[FieldInfo]:
    """Describe every leaf field of a model, a section or several sections (FR-040).

    For a bare model, paths are relative to it and environment names are omitted.
    """
    if isinstance(target, SectionSpec):
        specs: Sequence[SectionSpec] = (target,)
    elif isinstance(target, type):
        return [_info(leaf, None, env_prefix, env_suffix) for leaf in model_tree(target).leaves]
    else:
        specs = target
    return [
        _info(leaf, spec, env_prefix, env_suffix)
        for spec in specs
        for leaf in model_tree(spec.model).leaves
    ]


def _info(node: Node, spec: SectionSpec | None, prefix: str, suffix: str) -> FieldInfo:
    parts = list(node.rel)
    if spec is not None:
        parts = [spec.name, *([INSTANCE] if spec.instance_aware else []), *parts]
    info = node.info
    default = node.default
    if node.secret and default is not NOT_GIVEN and default is not None:
        default = MASK
    return FieldInfo(
        path=".".join(parts),
        name=node.name,
        type=type_name(node.annotation),
        default=default,
        required=node.required,
        dynamic=node.dynamic,
        secret=node.secret,
        description=(info.description or "") if info else "",
        env=env_names(spec, node, prefix=prefix, suffix=suffix) if spec else (),
        examples=tuple(info.examples or ()) if info else (),
        section=spec.name if spec else None,
        module=spec.module if spec else None,
        annotation=node.annotation,
    )
