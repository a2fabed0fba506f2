"""Secret values that never print (FR-049).

:class:`Secret` wraps a value so that ``repr``, ``str``, f-strings, logging, JSON and
pydantic serialisation all show a mask; :meth:`Secret.reveal` is the only way to read
it. Every secret value validated through configuration is also remembered in a
process-wide redaction set, so :func:`redact` can mask text that merely *contains*
it (a DSN with a password, an error message quoting a header). From the first
registered secret on, log records of the whole process are scrubbed too
(:func:`pymodular.logs.install_record_context`).

How much of a text is masked depends on the secret's length (:func:`masking_of`):
values of :data:`MIN_ANYWHERE` characters or more are masked wherever they appear;
shorter ones from :data:`MIN_TOKEN` characters on only as a whole token (not touching a
letter, digit or ``_``), so a password ``cat`` is masked in ``u:cat@host`` but
``concatenate`` survives; shorter still, a value is not masked at all. Configuration
warns about secret fields whose values are short (see decision 0345).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

__all__ = (
    "MASK",
    "MIN_ANYWHERE",
    "MIN_TOKEN",
    "Secret",
    "escaped_forms",
    "forget_secret",
    "is_registered",
    "json_safe",
    "masking_of",
    "redact",
    "redact_data",
    "register_secret",
)

MASK = "**********"
MIN_ANYWHERE = 8
"""Secrets at least this long are masked wherever they appear, even inside a word."""
MIN_TOKEN = 3
"""Shorter secrets are never masked; from this length on, as whole tokens only."""

Masking = Literal["anywhere", "token", "never"]

T = TypeVar("T")

_lock = threading.Lock()
_values: frozenset[str] = frozenset()
# Every form redact() masks (each value and its escaped forms), longest first, so a
# secret that contains another is masked whole.
_ordered: tuple[str, ...] = ()
# The forms of the values masked anywhere, grouped per value: ``(value, its forms longest
# first)``. Every escaped form that differs from the value holds a ``%``, a ``\`` or a
# ``+``, so a text with none of those is searched for the values alone (most log lines).
_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
# The forms of the short values, masked as whole tokens by one pattern (None: none).
_tokens: re.Pattern[str] | None = None


def masking_of(value: str) -> Masking:
    """How :func:`redact` masks ``value``: ``anywhere``, as a whole ``token``, or ``never``.

    A short value masked inside words would garble ordinary text (a password ``ab``
    in ``table``) and tell a reader where it occurs; as a whole token it is still masked
    where secrets usually show (``user:cat@host``, ``key=cat``, ``"cat"``).
    """
    if len(value) >= MIN_ANYWHERE:
        return "anywhere"
    return "token" if len(value) >= MIN_TOKEN else "never"


def escaped_forms(text: str) -> frozenset[str]:
    """``text`` as it reads once escaped: URL-encoded, JSON-escaped, inside a ``repr``.

    A secret quoted into a query string (``%2B``), a JSON body or a log line (``\\"``),
    or the ``repr`` of a section no longer contains its raw text; :func:`redact` masks
    these forms too.
    """
    forms = {
        text,
        quote(text, safe=""),
        quote(text),
        quote_plus(text, safe=""),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        repr(text)[1:-1],
        repr(text + "'\"")[1:-4],  # in a repr that escapes single quotes
    }
    return frozenset(f for f in forms if len(f) >= MIN_TOKEN)


def _index(values: frozenset[str]) -> None:
    """Rebuild ``_ordered``, ``_groups`` and ``_tokens`` for ``values`` (under ``_lock``)."""
    global _ordered, _groups, _tokens  # noqa: PLW0603 - swapped whole, read without the lock
    groups: list[tuple[str, tuple[str, ...]]] = []
    short: set[str] = set()
    every: set[str] = set()
    for value in values:
        forms = tuple(sorted(escaped_forms(value), key=len, reverse=True))
        every.update(forms)
        if masking_of(value) == "anywhere":
            groups.append((value, forms))
        else:
            short.update(forms)
    groups.sort(key=lambda group: len(group[1][0]) if group[1] else 0, reverse=True)
    _groups = tuple(group for group in groups if group[1])
    _tokens = None
    if short:
        alternatives = "|".join(re.escape(f) for f in sorted(short, key=len, reverse=True))
        _tokens = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    _ordered = tuple(sorted(every, key=len, reverse=True))


def register_secret(value: object) -> None:
    """Remember ``value`` so that :func:`redact` masks it wherever it appears in text.

    Its escaped forms (see :func:`escaped_forms`) are masked as well.
    """
    global _values  # noqa: PLW0603 - one process-wide set, swapped atomically
    texts = _texts_of(value)
    if texts <= _values:
        return  # nothing new (every validation of a known secret lands here): no copy
    with _lock:
        new = _values | texts
        if new != _values:
            _values = new
            _index(new)
    # From the first secret on, every log record in the process is scrubbed of them,
    # with or without an Application (idempotent; cheap once installed).
    from pymodular.logs import install_record_context

    install_record_context()


def forget_secret(value: object) -> None:
    """Stop masking ``value`` (used when a secret is rotated out and tests reset state)."""
    global _values  # noqa: PLW0603
    with _lock:
        _values = _values - _texts_of(value)
        _index(_values)


def is_registered(value: object) -> bool:
    """Return whether ``value`` is currently masked by :func:`redact`."""
    texts = _texts_of(value)
    return bool(texts) and texts <= _values


def redact(text: str) -> str:
    """Return ``text`` with every registered secret value replaced by :data:`MASK`.

    Short values are replaced only where they stand as whole tokens (:func:`masking_of`).
    """
    groups = _groups
    tokens = _tokens
    if not text or (not groups and tokens is None):
        return text
    if "%" in text or "\\" in text or "+" in text:  # an escaped form may be there
        for _, forms in groups:
            for form in forms:
                if form in text:
                    text = text.replace(form, MASK)
    else:
        for value, _ in groups:
            if value in text:
                text = text.replace(value, MASK)
    return text if tokens is None else tokens.sub(MASK, text)


def redact_data(value: Any) -> Any:
    """JSON-like ``value`` with :func:`redact` applied to every string inside it.

    Dicts and lists are copied (tuples become lists); other values pass through as
    they are.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """``value`` as JSON-friendly data that shows no secret.

    Secrets become the mask, strings are redacted, enums give their value, pydantic
    models their JSON dump, mappings and sequences are converted item by item, dates
    and times ISO text; anything else is shown as its (redacted) text.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    dump = getattr(value, "model_dump", None)  # a pydantic model, without importing pydantic
    if callable(dump):
        return json_safe(dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return redact(str(value))


def _texts_of(value: object) -> frozenset[str]:
    if isinstance(value, Secret):
        value = value.reveal()
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return frozenset()
    if isinstance(value, str):
        return frozenset({value}) if len(value) >= MIN_TOKEN else frozenset()
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
        return frozenset({text}) if len(text) >= MIN_TOKEN else frozenset()
    if isinstance(value, Mapping):
        value = value.values()  # the values are the secrets, not the keys
    if isinstance(value, Iterable):
        out: set[str] = set()
        for item in value:
            out |= _texts_of(item)
        return frozenset(out)
    return frozenset()


class Secret(Generic[T]):
    """A value that shows as a mask everywhere; read it with :meth:`reveal`.

    Used as a configuration field type (``api_key: Secret[str]``) it validates the
    inner value with pydantic, registers it for :func:`redact`, and serialises as the
    mask in JSON mode.
    """

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> T:
        """Return the wrapped value. Keep the result out of logs and errors."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return bool(self._value == other._value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value) if hasattr(self._value, "__len__") else 0

    def __copy__(self) -> Secret[T]:
        return self  # immutable: copies may share the value

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret[T]:
        return self

    def __reduce__(self) -> Any:
        # Pickling would copy the value out of process unmasked; refuse loudly.
        raise TypeError("Secret values cannot be pickled")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        args = get_args(source)
        inner = handler.generate_schema(args[0] if args else str)

        def wrap(value: Any) -> Secret[Any]:
            return value if isinstance(value, Secret) else Secret(value)

        def unwrap(value: Any) -> Any:
            return value.reveal() if isinstance(value, Secret) else value

        validated = core_schema.no_info_after_validator_function(wrap, inner)
        from_input = core_schema.chain_schema(
            [core_schema.no_info_plain_validator_function(unwrap), validated]
        )
        return core_schema.json_or_python_schema(
            json_schema=from_input,
            python_schema=from_input,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialize, info_arg=True
            ),
        )


def _serialize(value: Any, info: Any) -> Any:
    if info.mode == "json":
        return MASK
    return value
