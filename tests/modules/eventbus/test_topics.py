"""Topic validation, matching, overlap and the brokers' native syntaxes (pure)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymodular.errors import ValidationError
from pymodular.modules.eventbus import (
    amqp_binding,
    check_pattern,
    check_topic,
    covers,
    matches,
    mqtt_filter,
    nats_subject,
    overlaps,
    redis_glob,
)
from pymodular.modules.eventbus._topics import mqtt_topic_of


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
        ("a.*", "a.b", True),
        ("a.*", "a", False),
        ("a.*", "a.b.c", False),
        ("*.b", "a.b", True),
        ("a.>", "a.b", True),
        ("a.>", "a.b.c.d", True),
        ("a.>", "a", False),
        (">", "a", True),
        (">", "a.b", True),
        ("a.*.c", "a.x.c", True),
        ("a.*.c", "a.x.y.c", False),
        ("a-b:c.*", "a-b:c.d", True),
    ],
)
def test_matching(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


@pytest.mark.parametrize("topic", ["a", "orders.created", "a-b.c_d.e:f", "x" * 200])
def test_valid_topics(topic: str) -> None:
    assert check_topic(topic) == topic


@pytest.mark.parametrize(
    "topic",
    ["", ".", "a.", ".a", "a..b", "a b", "a/b", "a.*", "a.>", "ä", "x" * 201, "a\n", None, 3],
)
def test_invalid_topics(topic: object) -> None:
    with pytest.raises(ValidationError):
        check_topic(topic)


@pytest.mark.parametrize("pattern", [">", "*", "a.*.>", "*.*", "a.b", "x" * 200])
def test_valid_patterns(pattern: str) -> None:
    assert check_pattern(pattern) == pattern


@pytest.mark.parametrize(
    "pattern", ["", "a.>.b", ">.a", "a.>>", "a.#", "a.+", "a..b", "a.*x", None, "x" * 201]
)
def test_invalid_patterns(pattern: object) -> None:
    with pytest.raises(ValidationError):
        check_pattern(pattern)


def test_errors_state_the_rule_for_topics_and_for_patterns() -> None:
    with pytest.raises(ValidationError) as topic:
        check_topic("orders.*")
    assert "invalid topic 'orders.*'" in str(topic.value)
    assert "'*' for one segment" not in str(topic.value)
    assert "wildcards belong in subscriptions, not in published topics" in str(topic.value)
    with pytest.raises(ValidationError) as pattern:
        check_pattern("orders.>.paid")
    assert "invalid topic pattern 'orders.>.paid'" in str(pattern.value)
    assert "'*' for one segment, '>' (last) for one or more" in str(pattern.value)
    assert "wildcards belong" not in str(pattern.value)


@pytest.mark.parametrize("size", [81, 300])
def test_errors_show_at_most_80_characters_of_the_value(size: int) -> None:
    # Not a run of one letter: another test of the process may have registered such a
    # run as a secret, and a secret's value is masked wherever it shows.
    value = "".join(chr(ord("a") + n % 26) for n in range(size - 1)) + "!"
    with pytest.raises(ValidationError) as info:
        check_topic(value)
    assert repr(value[:80]) in str(info.value)
    assert value[:81] not in str(info.value)
    assert "!" not in str(info.value)


def test_only_a_topic_holding_a_wildcard_is_told_where_wildcards_belong() -> None:
    with pytest.raises(ValidationError) as info:
        check_topic("orders paid")
    assert "wildcards belong" not in str(info.value)
    with pytest.raises(ValidationError) as info:
        check_topic("orders.>")
    assert "wildcards belong in subscriptions" in str(info.value)


@pytest.mark.parametrize("pattern", ["", None, "x" * 201])
def test_a_pattern_refused_before_its_segments_states_the_pattern_rule(pattern: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_pattern(pattern)
    assert "'*' for one segment, '>' (last) for one or more" in str(info.value)


def test_native_syntaxes() -> None:
    assert nats_subject("orders.*", "events") == "events.orders.*"
    assert nats_subject("orders.>") == "orders.>"
    assert amqp_binding("orders.*") == "orders.*"
    assert amqp_binding("orders.>") == "orders.*.#"
    assert amqp_binding(">") == "*.#"
    assert mqtt_filter("orders.*.paid", "app/events") == "app/events/orders/+/paid"
    assert mqtt_filter("orders.>") == "orders/+/#"
    assert mqtt_topic_of("app/events/orders/eu", "app/events") == "orders.eu"
    assert redis_glob("orders.*.x", "p:") == "p:orders.*.x"
    assert redis_glob("orders.>", "p:") == "p:orders.*"


_SEGMENTS = st.sampled_from(["a", "b", "c"])
_TOPICS = st.lists(_SEGMENTS, min_size=1, max_size=4).map(".".join)
_PATTERNS = st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=3).flatmap(
    lambda parts: st.sampled_from([".".join(parts), ".".join([*parts, ">"])])
)


@given(_PATTERNS, _PATTERNS)
def test_overlap_and_cover_agree_with_matching_on_small_topics(first: str, second: str) -> None:
    topics = [".".join(t) for n in range(1, 6) for t in itertools.product("abc", repeat=n)]
    both = [t for t in topics if matches(first, t) and matches(second, t)]
    assert overlaps(first, second) is bool(both)
    specific = [t for t in topics if matches(second, t)]
    # covering means no topic of ``second`` escapes ``first`` (within 5 segments)
    escapes = [t for t in specific if not matches(first, t)]
    assert covers(first, second) is (not escapes)


@given(_TOPICS)
def test_a_topic_matches_itself_and_the_catch_all(topic: str) -> None:
    assert matches(topic, topic)
    assert matches(">", topic)
