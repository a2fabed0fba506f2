"""Masking log records: by field name, by pattern and by the :class:`Secret` type.

:class:`LogMasker` is a :class:`logging.Filter`. Put it on a handler (``configure_logging``
does, by default) and every record that handler writes is masked first:

- **fields by name** — extra fields (``log.info("...", extra={"password": ...})``,
  :func:`pymodular.logs.bind`, :func:`pymodular.logs.log_fields`) and the keys of a
  mapping passed as the message's arguments. A name matches a rule when it equals it or
  ends with ``_<rule>`` after lower-casing and turning ``-`` into ``_``: ``password``
  covers ``db_password``, ``key`` covers ``api_key`` but not ``monkey``;
- **patterns** in the rendered message and in string fields — card numbers (checked
  with the Luhn sum, so order numbers survive) keep their last four digits, e-mail
  addresses their first two characters and domain;
- **secrets** — a :class:`~pymodular.secrets.Secret` anywhere in the fields shows as the
  mask, and registered secret values are masked in any text (the core does this for
  every record of the process already).

Strategies: ``redact`` (``[REDACTED]``), ``partial`` (keep the first and last
characters given by :class:`Partial`), ``hash`` (``[HASH:<16 hex of sha256>]``: the same
value always gives the same text, to correlate identifiers without showing them — not
for low-entropy secrets such as passwords, which a hash does not hide), ``none``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pymodular._credentials import scrub_urls
from pymodular.secrets import MASK, Secret, redact

__all__ = (
    "DEFAULT_FIELDS",
    "DEFAULT_PATTERNS",
    "LogMasker",
    "Partial",
    "PatternRule",
    "Strategy",
    "mask_value",
)

Strategy = Literal["redact", "partial", "hash", "none"]

REDACTED = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Partial:
    """What ``partial`` keeps: the first and last characters, the rest masked."""

    show_first: int = 2
    show_last: int = 2
    mask_char: str = "*"
    min_length: int = 4


@dataclass(frozen=True, slots=True)
class PatternRule:
    """Text matching ``pattern`` is masked with ``strategy`` (``accept`` may veto a match)."""

    name: str
    pattern: re.Pattern[str]
    strategy: Strategy = "partial"
    partial: Partial = Partial()
    accept: Callable[[str], bool] | None = None


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if i % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


_REDACTED_FIELDS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "dsn",
    "signature",
)
DEFAULT_FIELDS: Mapping[str, Strategy] = {
    **dict.fromkeys(_REDACTED_FIELDS, "redact"),
    "email": "partial",
}
"""Field names masked by default (``email`` partially, the rest redacted)."""

_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-]{1,64})@([A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63})\b")

DEFAULT_PATTERNS: tuple[PatternRule, ...] = (
    PatternRule(
        "card",
        re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
        partial=Partial(show_first=0, show_last=4, min_length=12),
        accept=_luhn,
    ),
    PatternRule(
        "email",
        _EMAIL,
        partial=Partial(show_first=2, show_last=0, min_length=1),
    ),
)
"""Patterns masked in messages by default: card numbers and e-mail addresses."""


def mask_value(value: Any, strategy: Strategy, partial: Partial = Partial()) -> Any:
    """``value`` masked with ``strategy`` (``partial`` of a non-string redacts it)."""
    if strategy == "none":
        return MASK if isinstance(value, Secret) else value
    if isinstance(value, Secret):
        value = value.reveal()
    if strategy == "hash":
        import hashlib  # only when a rule hashes: keeps it out of the core's import time

        return f"[HASH:{hashlib.sha256(str(value).encode()).hexdigest()[:16]}]"
    if strategy == "partial" and isinstance(value, str):
        return _partial(value, partial)
    return REDACTED


def _partial(text: str, rule: Partial) -> str:
    keep = rule.show_first + rule.show_last
    if len(text) < rule.min_length or keep >= len(text):
        return rule.mask_char * len(text) if len(text) < rule.min_length else text
    end = len(text) - rule.show_last
    return text[: rule.show_first] + rule.mask_char * (end - rule.show_first) + text[end:]


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "correlation_id",
    "tenant",
    "component",
    "trace_id",
    "span_id",
}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's fields beyond the standard ones (extras, bound and context fields)."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class LogMasker(logging.Filter):
    """A filter that masks a record's fields and message in place; it never drops one."""

    def __init__(
        self,
        *,
        fields: Mapping[str, Strategy] = DEFAULT_FIELDS,
        patterns: Iterable[PatternRule] = DEFAULT_PATTERNS,
        partial: Partial = Partial(),
    ) -> None:
        super().__init__()
        self.fields = {self._normal(k): v for k, v in fields.items()}
        self.patterns = tuple(patterns)
        self.partial = partial
        self._subs = tuple(
            (rule.pattern.sub, functools.partial(self._masked_match, rule=rule))
            for rule in self.patterns
        )
        self._strategies: dict[str, Strategy | None] = {}

    @staticmethod
    def _normal(name: str) -> str:
        return name.lower().replace("-", "_")

    def strategy_for(self, name: str) -> Strategy | None:
        """The strategy of the rule ``name`` matches, or None."""
        try:
            return self._strategies[name]
        except KeyError:
            pass
        found: Strategy | None = None
        parts = self._normal(name).split("_")
        for start in range(len(parts)):  # the whole name, then ever shorter suffixes
            found = self.fields.get("_".join(parts[start:]))
            if found is not None:
                break
        if len(self._strategies) < 4096:  # field names are few; bound the memo anyway
            self._strategies[name] = found
        return found

    def mask_text(self, text: str) -> str:
        """``text`` with every pattern's matches masked, URL credentials (a password in
        the userinfo, sensitive query values) and registered secrets."""
        for sub, replace in self._subs:
            text = sub(replace, text)
        return redact(scrub_urls(text))

    def _masked_match(self, match: re.Match[str], rule: PatternRule) -> str:
        found = match.group(0)
        if rule.accept is not None and not rule.accept(found):
            return found
        if rule.name == "email" and rule.strategy == "partial":
            return f"{_partial(match.group(1), rule.partial)}@{match.group(2)}"
        masked = mask_value(found, rule.strategy, rule.partial)
        return str(masked)

    def mask_field(self, name: str, value: Any) -> Any:
        """``value`` of field ``name`` as it may be logged."""
        strategy = self.strategy_for(name)
        if strategy is not None:
            if strategy == "partial" and isinstance(value, str) and _EMAIL.fullmatch(value):
                return self.mask_text(value)  # an address keeps its domain
            return mask_value(value, strategy, self.partial)
        if isinstance(value, Secret):
            return MASK
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, Mapping):
            return {k: self.mask_field(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_field(name, v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in extra_fields(record).items():
            setattr(record, name, self.mask_field(name, value))
        args = record.args
        if isinstance(args, Mapping):
            record.args = {k: self.mask_field(str(k), v) for k, v in args.items()}
        elif args:
            record.args = tuple(MASK if isinstance(a, Secret) else a for a in args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken format string: logging reports it itself
        masked = self.mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True
