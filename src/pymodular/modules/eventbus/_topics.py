"""Topics and topic patterns: validation, matching, and each broker's native syntax.

A topic is dot-separated segments (``orders.created``), each made of letters, digits,
``_``, ``-`` and ``:``. A pattern may also use ``*`` (exactly one segment) and, as its
last segment, ``>`` (one or more segments)::

    orders.created     only that topic
    orders.*           orders.created, orders.paid             (not orders, orders.a.b)
    orders.>           orders.created, orders.eu.paid          (not orders)

Everything here is pure: the engines translate patterns with :func:`nats_subject`,
:func:`amqp_binding`, :func:`mqtt_filter` and :func:`redis_glob`, and the bus decides
which engines a subscription needs with :func:`overlaps` and :func:`covers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from pymodular.errors import ValidationError

__all__ = (
    "MAX_TOPIC_LENGTH",
    "amqp_binding",
    "check_pattern",
    "check_topic",
    "covers",
    "is_pattern",
    "matcher",
    "matches",
    "mqtt_filter",
    "mqtt_topic_of",
    "nats_subject",
    "overlaps",
    "redis_glob",
)

MAX_TOPIC_LENGTH = 200
ONE = "*"
MANY = ">"
_SEGMENT = re.compile(r"[A-Za-z0-9_\-:]+")
_TOPIC = re.compile(r"[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*")


def check_topic(topic: object) -> str:
    """Return ``topic`` if it is a valid topic, else raise :class:`ValidationError`."""
    if type(topic) is str and len(topic) <= MAX_TOPIC_LENGTH and _TOPIC.fullmatch(topic):
        return topic
    raise ValidationError(_problem(topic, wildcards=False), field="topic")


def check_pattern(pattern: object) -> str:
    """Return ``pattern`` if it is a valid topic pattern, else raise :class:`ValidationError`."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_TOPIC_LENGTH:
        raise ValidationError(_problem(pattern, wildcards=True), field="pattern")
    segments = pattern.split(".")
    for index, segment in enumerate(segments):
        if segment == ONE or (segment == MANY and index == len(segments) - 1):
            continue
        if not _SEGMENT.fullmatch(segment):
            raise ValidationError(_problem(pattern, wildcards=True), field="pattern")
    return pattern


def _problem(value: object, *, wildcards: bool) -> str:
    kind = "topic pattern" if wildcards else "topic"
    shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:80])
    rule = (
        "dot-separated segments of letters, digits, '_', '-' or ':'"
        + (", '*' for one segment, '>' (last) for one or more" if wildcards else "")
        + f", at most {MAX_TOPIC_LENGTH} characters"
    )
    if isinstance(value, str) and not wildcards and ("*" in value or ">" in value):
        rule += "; wildcards belong in subscriptions, not in published topics"
    return f"invalid {kind} {shown}: expected {rule}"


def is_pattern(pattern: str) -> bool:
    """Whether ``pattern`` has a wildcard (otherwise it names exactly one topic)."""
    return ONE in pattern.split(".") or pattern.endswith(MANY)


def matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` matches ``pattern`` (both assumed valid)."""
    return matcher(pattern)(topic)


@lru_cache(maxsize=4096)
def matcher(pattern: str) -> Callable[[str], bool]:
    """A fast predicate for ``pattern``: string equality when it has no wildcard."""
    if not is_pattern(pattern):
        return pattern.__eq__
    parts = [re.escape(s) if s not in (ONE, MANY) else s for s in pattern.split(".")]
    body = r"\.".join(
        r"[^.]+" if s == ONE else r"[^.]+(?:\.[^.]+)*" if s == MANY else s for s in parts
    )
    compiled = re.compile(body)
    return lambda topic: compiled.fullmatch(topic) is not None


def overlaps(first: str, second: str) -> bool:
    """Whether some topic matches both patterns."""
    a, b = first.split("."), second.split(".")
    for index in range(max(len(a), len(b))):
        if index >= len(a) or index >= len(b):
            return False  # one ran out; '>' would have returned already (it needs a segment)
        x, y = a[index], b[index]
        if MANY in (x, y):
            return True  # the other has a segment here, and '>' takes it and the rest
        if ONE not in (x, y) and x != y:
            return False
    return True


def covers(general: str, specific: str) -> bool:
    """Whether every topic matching ``specific`` also matches ``general``."""
    g, s = general.split("."), specific.split(".")
    for index, part in enumerate(g):
        if index >= len(s):
            return False
        if part == MANY:
            return True
        if s[index] == MANY:
            return False
        if part != ONE and (s[index] == ONE or s[index] != part):
            return False
    return len(g) == len(s)


def nats_subject(pattern: str, prefix: str = "") -> str:
    """The NATS subject (or subject filter) for a topic or pattern: the same syntax."""
    return f"{prefix}.{pattern}" if prefix else pattern


def amqp_binding(pattern: str) -> str:
    """The AMQP topic-exchange binding key: ``*`` stays, ``>`` becomes ``*.#``.

    AMQP's ``#`` also matches no segment at all, so one-or-more is ``*.#``.
    """
    return pattern[:-1] + "*.#" if pattern.endswith(MANY) else pattern


def mqtt_filter(pattern: str, prefix: str = "") -> str:
    """The MQTT topic (or filter): ``/`` between segments, ``+`` for ``*``, ``+/#`` for ``>``.

    MQTT's ``#`` also matches the parent level, so one-or-more is ``+/#``.
    """
    parts = ["+" if s == ONE else "+/#" if s == MANY else s for s in pattern.split(".")]
    joined = "/".join(parts)
    return f"{prefix}/{joined}" if prefix else joined


def mqtt_topic_of(name: str, prefix: str = "") -> str:
    """The bus topic of an MQTT topic name (the inverse of :func:`mqtt_filter` for topics)."""
    if prefix:
        name = name.removeprefix(prefix + "/")
    return name.replace("/", ".")


def redis_glob(pattern: str, prefix: str = "") -> str:
    """A Redis key glob that finds at least the streams of ``pattern`` (filter with
    :func:`matches` after: a glob ``*`` also spans dots)."""
    glob = ".".join("*" if s in (ONE, MANY) else s for s in pattern.split("."))
    return f"{prefix}{glob}"
