"""Parameter markers for typed handlers: where a value comes from and how it is checked.

::

    @router.get("/items/{item_id}")
    async def get_item(
        item_id: int,                                           # path (named in the path)
        q: str | None = None,                                   # query (a plain value)
        limit: Annotated[int, Query(ge=1, le=100)] = 10,        # query, with bounds
        tags: list[str] = Query([], alias="tag"),               # ?tag=a&tag=b
        token: Annotated[str, Header(alias="X-Token")] = "",    # a header
        repo: ItemRepository,                                   # a service, by type
    ) -> Item: ...

A marker may sit in ``Annotated[...]`` or be the default value. Constraints (``ge``,
``le``, ``gt``, ``lt``, ``min_length``, ``max_length``, ``pattern``, ``multiple_of``) and
``description``/``examples`` are pydantic's, so they validate and document alike.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

__all__ = ("MISSING", "Body", "Header", "Inject", "Param", "Path", "Query")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final[Any] = _Missing()
"""No default given (the parameter is required)."""


class Param:
    """Base of the markers: a default, an alias, documentation and pydantic constraints."""

    source: ClassVar[str] = ""

    __slots__ = ("alias", "constraints", "default", "deprecated", "description", "examples")

    def __init__(
        self,
        default: Any = MISSING,
        *,
        alias: str | None = None,
        description: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool = False,
        **constraints: Any,
    ) -> None:
        self.default = default
        self.alias = alias
        self.description = description
        self.examples = examples
        self.deprecated = deprecated
        self.constraints = constraints

    def __repr__(self) -> str:
        shown = [] if self.default is MISSING else [repr(self.default)]
        if self.alias:
            shown.append(f"alias={self.alias!r}")
        shown.extend(f"{k}={v!r}" for k, v in self.constraints.items())
        return f"{type(self).__name__}({', '.join(shown)})"


class Path(Param):
    """A path parameter (``/items/{item_id}``); only needed for constraints or docs."""

    source = "path"
    __slots__ = ()


class Query(Param):
    """A query parameter; ``list[T]`` takes every occurrence (``?tag=a&tag=b``)."""

    source = "query"
    __slots__ = ()


class Header(Param):
    """A request header; the name defaults to the parameter's with ``-`` for ``_``
    (``x_token`` reads ``X-Token``), matched case-insensitively."""

    source = "header"
    __slots__ = ()


class Body(Param):
    """The JSON request body; only needed for a body of a plain type (``list[int]``,
    ``dict[str, Any]``) or for documentation. Models, dataclasses and TypedDicts are
    bodies without it."""

    source = "body"
    __slots__ = ()


class Inject:
    """A service from the registry: ``repo: Annotated[Repo, Inject(name="primary")]``.

    Not needed for a class some module provides (its type finds it); use it to pick a
    service by ``name``, or for a type the router would otherwise take as input.
    Tenant-scoped services resolve to the request's tenant.
    """

    __slots__ = ("name",)

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Inject({self.name!r})" if self.name else "Inject()"
