"""The metrics service: instruments, scrubbed and guarded labels, exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pymodular.modules.metrics import OVERFLOW, CardinalityGuard, Metrics, MetricsError
from pymodular.secrets import MASK, Secret, forget_secret


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.exposition()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_instruments_are_prefixed_and_exposed() -> None:
    metrics = Metrics(namespace="shop")
    metrics.counter("orders_total", "Orders", ("channel",)).labels("web").inc(3)
    metrics.gauge("stock", "Items in stock").unlabelled.set(7)
    metrics.histogram("order_seconds", "Time", buckets=(0.1, 1.0)).unlabelled.observe(0.5)
    found = samples(metrics)
    assert found[("shop_orders_total", (("channel", "web"),))] == 3
    assert found[("shop_stock", ())] == 7
    assert found[("shop_order_seconds_bucket", (("le", "1.0"),))] == 1
    assert found[("shop_order_seconds_bucket", (("le", "0.1"),))] == 0
    assert metrics.instruments == ["shop_order_seconds", "shop_orders_total", "shop_stock"]


def test_declaring_again_returns_the_same_instrument_or_refuses_a_clash() -> None:
    metrics = Metrics()
    first = metrics.counter("hits_total", "Hits", ("route",))
    assert metrics.counter("hits_total", "Hits", ("route",)) is first
    with pytest.raises(MetricsError, match="already a counter"):
        metrics.gauge("hits_total", "Hits", ("route",))
    with pytest.raises(MetricsError, match="cannot be declared"):
        metrics.histogram("latency", "x", ("le",))  # le is the bucket label


def test_a_wrong_number_of_label_values_is_a_clear_error() -> None:
    metrics = Metrics()
    counter = metrics.counter("x_total", "x", ("a", "b"))
    with pytest.raises(MetricsError, match=r"takes 2 label value\(s\) \(a, b\), got 1"):
        counter.labels("only")


def test_a_secret_never_becomes_a_label_value() -> None:
    secret = Secret("s3cr3t-label-value-42")
    try:
        metrics = Metrics()
        metrics.counter("calls_total", "Calls", ("target",)).labels(
            "https://user:s3cr3t-label-value-42@host/"
        ).inc()
        body, _ = metrics.exposition()
        assert b"s3cr3t-label-value-42" not in body
        assert f"user:{MASK}@host".encode() in body
    finally:
        forget_secret(secret)


def test_a_capped_label_folds_new_values_into_one_overflow_series() -> None:
    clock = iter(range(10_000)).__next__
    metrics = Metrics(
        guard=CardinalityGuard(limit=3, window=1e9, cap=True), clock=lambda: float(clock())
    )
    counter = metrics.counter("requests_total", "Requests", ("user",))
    for i in range(50):
        counter.labels(f"user-{i}").inc()
    users = {
        labels[0][1] for name, labels in samples(metrics) if name == "pymodular_requests_total"
    }
    assert users == {"user-0", "user-1", "user-2", OVERFLOW}
    assert samples(metrics)[("pymodular_requests_total", (("user", OVERFLOW),))] == 47


def test_the_exposition_follows_the_accept_header() -> None:
    metrics = Metrics()
    metrics.counter("x_total", "x").unlabelled.inc()
    _, plain = metrics.exposition()
    _, openmetrics = metrics.exposition("application/openmetrics-text; version=1.0.0")
    assert plain.startswith("text/plain")
    assert openmetrics.startswith("application/openmetrics-text")
