"""The showcase's traces and masked logs, from its process, as configured by its files.

Traces go to a loopback OTLP/HTTP receiver that decodes the real protobuf payload (see
``tests/modules/tracing/test_otlp.py``), named the way every OpenTelemetry SDK reads it:
``OTEL_EXPORTER_OTLP_ENDPOINT``. The logs are the process's stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.showcase.observability import tracing_settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests._receiver import Receiver, receiving
from tests._until import until, until_async
from tests.e2e.showcase_process import start_showcase
from tests.modules.tracing.test_otlp import decode, received_spans

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
CARD = "4111 1111 1111 1111"
MAIL = "grace.hopper@example.com"
NOTES = "the door code is 4471"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    answer = ExportTraceServiceResponse().SerializeToString()
    with receiving(Receiver("/v1/traces", status=200, reply=answer,
                            reply_type="application/x-protobuf")) as running:  # fmt: skip
        yield running


def test_tracing_is_off_unless_an_endpoint_or_an_exporter_is_named() -> None:
    assert tracing_settings({}) is None
    assert tracing_settings({"SHOWCASE_TRACING": "none"}) is None
    assert tracing_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == {
        "exporter": "otlp",
        "otlp": {"endpoint": "http://c:4318/v1/traces"},
    }
    assert tracing_settings({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/t"}) == {
        "exporter": "otlp",
        "otlp": {"endpoint": "http://c/t"},
    }
    assert tracing_settings({"SHOWCASE_TRACING": "console"}) == {"exporter": "console"}
    with pytest.raises(ValueError, match="SHOWCASE_TRACING='zipkin': expected one of"):
        tracing_settings({"SHOWCASE_TRACING": "zipkin"})


async def test_a_request_is_traced_through_the_database_and_the_outbox_to_the_subscriber(
    tmp_path: Path, receiver: Receiver
) -> None:
    base = receiver.url.removesuffix("/v1/traces")
    showcase = await start_showcase(
        tmp_path / "data",
        {"OTEL_EXPORTER_OTLP_ENDPOINT": base, "APP_TRACING__BATCH__SCHEDULE_DELAY": "0.2"},
    )
    try:
        async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
            created = await http.post(
                "/api/tasks",
                json={"title": "traced"},
                headers={**showcase.headers(), "traceparent": CALLER},
            )
        assert created.status_code == 201

        def ours() -> dict[str, Any]:
            spans = [s for _, _, s in received_spans(receiver.bodies(decode))]
            return {s.name: s for s in spans if s.trace_id.hex() == CALLER_TRACE}

        # The subscriber's insert is the last span of the trace to end.
        try:
            await until_async(_async(lambda: "tasks.created process" in ours()), 20)
        except TimeoutError:
            seen = [
                (s.name, s.trace_id.hex()) for _, _, s in received_spans(receiver.bodies(decode))
            ]
            raise AssertionError(f"{seen}\n{showcase.log.read_text()[-3000:]}") from None
    finally:
        assert await showcase.stop() == 0
    spans = ours()
    services = {service for service, _, _ in received_spans(receiver.bodies(decode))}
    server = spans["POST /api/tasks"]
    publish = spans["tasks.created publish"]
    process = spans["tasks.created process"]
    assert services == {"pymodular-showcase"}  # config.tracing.yaml named it
    assert server.parent_span_id.hex() == "00f067aa0ba902b7"  # the caller's span
    assert publish.parent_span_id == server.span_id
    assert process.parent_span_id == publish.span_id  # through the outbox row and the relay
    statements = [
        s for s in received_spans(receiver.bodies(decode)) if s[2].name == "INSERT default"
    ]
    parents = {s.parent_span_id for _, _, s in statements if s.trace_id.hex() == CALLER_TRACE}
    assert {server.span_id, process.span_id} <= parents  # the task's insert, the activity's


async def test_secrets_and_personal_data_are_masked_in_the_logs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    extra = tmp_path / "json-logs.yaml"
    extra.write_text("logs:\n  format: json\n", encoding="utf-8")
    showcase = await start_showcase(data, {"SHOWCASE_CONFIG": str(extra)})
    signing_key = (data / "keys" / "jwt.secret").read_text(encoding="utf-8").strip()
    title = f"pay with {CARD}, ask {MAIL}, sign with {signing_key}"
    try:
        async with httpx.AsyncClient(base_url=showcase.url, timeout=10) as http:
            created = await http.post(
                "/api/tasks", json={"title": title, "notes": NOTES}, headers=showcase.headers()
            )
        assert created.status_code == 201
        assert created.json()["title"] == title  # the data itself is kept as written
        task_id = created.json()["id"]

        def logged() -> list[dict[str, Any]]:
            lines = showcase.log.read_text(encoding="utf-8").splitlines()
            records = [json.loads(line) for line in lines if line.startswith("{")]
            return [r for r in records if r.get("task_id") == task_id]

        await until(logged, timeout=10)
    finally:
        assert await showcase.stop() == 0
    text = showcase.log.read_text(encoding="utf-8")
    (record,) = logged()
    assert record["message"].startswith(f"task {task_id} created (tenant acme, version 1)")
    assert "***************1111" in record["message"]  # the card's last four digits
    assert "gr**********@example.com" in record["message"]
    assert record["notes"] == "[REDACTED]"  # the logs section's own rule
    assert "sign with ****" in record["message"]  # a secret of the configuration
    for secret in (CARD, MAIL, NOTES, signing_key):
        assert secret not in text


def _async(check: Any) -> Any:
    async def condition() -> bool:
        return bool(check())

    return condition
