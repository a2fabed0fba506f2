"""``ConfigModel`` (the base of every section's model) and the ``field()`` helper."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.fields import FieldInfo as PydanticFieldInfo
from pydantic_core import PydanticUndefined

from pymodular.config._sentinel import NOT_GIVEN
from pymodular.config._types import is_secret_type
from pymodular.secrets import MASK, redact, redact_data

__all__ = ("ConfigModel", "field", "field_flags")

# Keys under which field() stores its metadata in pydantic's ``json_schema_extra``;
# they also show in the JSON schema, where ``x-`` marks them as extensions.
DYNAMIC_KEY = "x-dynamic"
SECRET_KEY = "x-secret"  # noqa: S105 - a schema key name, not a password
ENV_KEY = "x-env"


class _Masked:
    """Stands in for a secret value inside a model's repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


_MASKED = _Masked()


class ConfigModel(BaseModel):
    """Base class for one section's configuration model.

    A pydantic model that is frozen (a loaded configuration does not change under a
    module's feet; hot reload swaps whole snapshots), validates defaults, and masks
    fields declared ``field(secret=True)`` in ``repr``/``str`` and JSON output.
    Unknown keys are reported by :class:`~pymodular.config.Configuration` (a warning,
    or an error in strict mode), not by the model.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    __pymodular_secret_fields__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__pymodular_secret_fields__ = frozenset(
            name for name, info in cls.model_fields.items() if field_flags(info)[1]
        )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        secret = type(self).__pymodular_secret_fields__
        for name, value in super().__repr_args__():
            yield name, (_MASKED if name in secret else value)

    def __repr__(self) -> str:
        # Values that merely contain a secret (a DSN with a password) are masked too.
        return redact(super().__repr__())

    def __str__(self) -> str:
        return redact(super().__str__())

    @model_serializer(mode="wrap")
    def _mask_secret_fields(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not info.mode_is_json():
            return data
        secret = type(self).__pymodular_secret_fields__
        fields = type(self).model_fields
        for name in secret:
            alias = fields[name].alias
            key = alias if info.by_alias and alias else name
            if data.get(key) is not None:
                data[key] = MASK
        redacted: dict[str, Any] = redact_data(data)
        return redacted


def field(
    default: Any = NOT_GIVEN,
    *,
    description: str = "",
    dynamic: bool = False,
    secret: bool = False,
    examples: Iterable[Any] = (),
    env: str | None = None,
    **pydantic_kwargs: Any,
) -> Any:
    """Declare a configuration field.

    With no ``default`` (and no ``default_factory``) the field is required: if no
    feeder sets it, loading fails (FR-009). ``None`` is a real default, not "absent".

    ``dynamic=True`` marks a field that hot reload may change without a restart;
    ``secret=True`` masks a plain-typed value everywhere (``Secret[...]`` types are
    secret already); ``env`` names one extra environment variable, read verbatim
    (no prefix) before the generated names; ``examples`` feed samples and docs.
    Remaining keyword arguments go to :func:`pydantic.Field` (``ge``, ``alias``, ...).
    """
    extra = dict(pydantic_kwargs.pop("json_schema_extra", None) or {})
    if dynamic:
        extra[DYNAMIC_KEY] = True
    if secret:
        extra[SECRET_KEY] = True
        extra.setdefault("writeOnly", True)
    if env is not None:
        if not env or not env.strip():
            raise ValueError("field(env=...) must be a non-empty variable name")
        extra[ENV_KEY] = env
    examples_list = list(examples)
    if default is NOT_GIVEN:
        default = PydanticUndefined
    return Field(
        default,
        description=description or None,
        examples=examples_list or None,
        json_schema_extra=extra or None,
        **pydantic_kwargs,
    )


def field_flags(info: PydanticFieldInfo) -> tuple[bool, bool, str | None]:
    """Return ``(dynamic, secret, env)`` for a pydantic field declared with :func:`field`."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    env = extra.get(ENV_KEY)
    secret = bool(extra.get(SECRET_KEY)) or is_secret_type(info.annotation)
    return bool(extra.get(DYNAMIC_KEY)), secret, env if isinstance(env, str) else None
