"""Metrics, the audit trail over HTTP, trace-bound logs and OpenTelemetry spans."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from sluicegate.config.schema import Config
from sluicegate.observability.tracing import Telemetry
from sluicegate.runtime import build_runtime
from sluicegate.server import create_app
from sluicegate.testing import MockUpstream
from sluicegate.testing.processes import GatewayProcess
from sluicegate.testing.threads import UvicornThread

ANSWER = "Hello there, friend."
SCRIPT = {"m": [{"text": ANSWER}], "cut": [{"text": ANSWER, "fault": "truncate", "fault_after_chunks": 1}]}


def config(upstream: MockUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {
            "up": {
                "type": "openai",
                "base_url": upstream.url + "/v1",
                "models": ["m", "cut"],
                "prices": {"m": {"input_per_mtok": 1000, "output_per_mtok": 2000}},
            }
        },
        "models": {"reasoning": {"use": ["up/m"]}, "shaky": {"use": ["up/cut", "up/m"]}},
        **extra,
    }


def chat(url: str, model: str = "reasoning", content: str = "hi", stream: bool = False) -> httpx.Response:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]}
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=30)


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url + "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_parse_and_move(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    server = gateway(config(threaded_upstream(SCRIPT)))
    before = samples(server.url)
    assert chat(server.url).status_code == 200
    assert chat(server.url, stream=True).status_code == 200
    assert chat(server.url, "shaky", stream=True).status_code == 200
    assert chat(server.url, "nope").status_code == 404
    after = samples(server.url)
    route = "/v1/chat/completions"
    assert value(after, "sluicegate_requests_total", route=route, role="reasoning", status="200") == 2
    assert value(after, "sluicegate_requests_total", route=route, role="-", status="404") == 1
    assert value(after, "sluicegate_request_duration_seconds_count", route=route, role="reasoning") == 2
    assert value(after, "sluicegate_time_to_first_token_seconds_count", role="reasoning") == 1
    assert value(after, "sluicegate_tokens_total", user="anonymous", role="reasoning", kind="completion") > 0
    assert value(after, "sluicegate_cost_usd_total", user="anonymous", role="reasoning") > 0
    assert value(after, "sluicegate_failovers_total", from_target="up/cut", to_target="up/m") == 1
    assert value(after, "sluicegate_provider_errors_total", target="up/cut", kind="truncated_stream") == 1
    assert value(after, "sluicegate_role_in_flight", role="reasoning") == 0
    assert value(before, "sluicegate_requests_total", route=route, role="reasoning", status="200") == 0


def test_admin_events_tell_a_requests_story(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    server = gateway(config(threaded_upstream(SCRIPT)))
    response = chat(server.url, "shaky", "my email is ann@example.com", stream=True)
    trace_id = response.headers["x-sluicegate-trace-id"]
    trail = httpx.get(server.url + "/admin/events", params={"trace_id": trace_id}).json()["events"]
    # The orchestrator's moves are events of their own (the transition table has its own tests).
    moves = [e["payload"]["to_state"] for e in trail if e["type"] == "routing_transition"]
    assert (moves[0], moves[-1]) == ("AUTHORIZE", "COMPLETED")
    assert "LLM_CALL" in moves
    events = [e for e in trail if e["type"] != "routing_transition"]
    kinds = [e["type"] for e in events]
    assert kinds == [
        "request_received",
        "provider_attempt",
        "provider_attempt",
        "failover",
        "request_completed",
    ]
    assert all(e["trace_id"] == trace_id and e["schema_version"] == 1 for e in events)
    assert events[0]["payload"]["messages"] is None  # content is not stored by default
    assert events[-1]["payload"]["outcome"] == "ok"
    assert events[-1]["payload"]["served_by"] == "up/m"
    assert "ann@example.com" not in json.dumps(events)


def test_a_whole_answer_is_recorded_once_it_has_been_sent(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    """The chat door sends a whole answer before the request's record (COMPLETED, request_completed,
    the token counts) is made: each record is there, once, by the time the next request is read."""
    server = gateway(config(threaded_upstream(SCRIPT)))
    traces = [chat(server.url).headers["x-sluicegate-trace-id"] for _ in range(3)]
    for trace_id in traces:
        events = httpx.get(server.url + "/admin/events", params={"trace_id": trace_id}).json()["events"]
        moves = [e["payload"]["to_state"] for e in events if e["type"] == "routing_transition"]
        assert moves == ["AUTHORIZE", "MODEL_SELECTION", "LLM_CALL", "COMPLETED"]
        assert [e["type"] for e in events if e["type"] == "request_completed"] == ["request_completed"]
    found = samples(server.url)
    route = "/v1/chat/completions"
    assert value(found, "sluicegate_requests_total", route=route, role="reasoning", status="200") == 3
    assert value(found, "sluicegate_tokens_total", user="anonymous", role="reasoning", kind="completion") > 0


def test_stored_content_is_redacted(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    server = gateway(config(threaded_upstream(SCRIPT), audit={"store_content": True}))
    trace_id = chat(server.url, content="mail ann@example.com or call 415-555-0132").headers[
        "x-sluicegate-trace-id"
    ]
    events = httpx.get(server.url + "/admin/events", params={"trace_id": trace_id}).json()["events"]
    received = next(e for e in events if e["type"] == "request_received")
    stored = received["payload"]["messages"][0]["content"]
    assert stored == "mail [EMAIL] or call [PHONE]"
    assert events[-1]["payload"]["completion"] == ANSWER


def test_spans_carry_the_trace_id(threaded_upstream: Callable[..., MockUpstream]) -> None:
    exporter = InMemorySpanExporter()
    runtime = build_runtime(
        Config.model_validate(config(threaded_upstream(SCRIPT))), telemetry=Telemetry.from_exporter(exporter)
    )
    server = UvicornThread(create_app(runtime)).start()
    try:
        trace_id = chat(server.url, "shaky", stream=True).headers["x-sluicegate-trace-id"]
    finally:
        server.stop()
    spans = [s for s in exporter.get_finished_spans() if s.name == "POST /v1/chat/completions"]
    assert len(spans) == 1
    assert format(spans[0].context.trace_id, "032x") == trace_id
    assert spans[0].attributes["http.status_code"] == 200
    assert [e.name for e in spans[0].events] == ["provider_attempt", "failover"]


def test_logs_are_json_lines_carrying_the_trace_id(
    threaded_upstream: Callable[..., MockUpstream], tmp_path: Path
) -> None:
    gateway = GatewayProcess(config(threaded_upstream(SCRIPT)), tmp_path)
    trace_id = chat(gateway.url, "shaky", stream=True).headers["x-sluicegate-trace-id"]
    _, stderr = gateway.stop()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert lines, stderr
    completed = [line for line in lines if line.get("event") == "request_completed"]
    assert completed[0]["trace_id"] == trace_id
    assert completed[0]["role"] == "shaky"
    assert completed[0]["failovers"] == 1


def test_admin_events_refuse_out_of_range_numbers_with_400(gateway: Callable[..., Any]) -> None:
    server = gateway(
        {
            "providers": {"demo": {"type": "scripted", "inline": {"models": {"m": [{"text": "hi"}]}}}},
            "models": {"r": {"use": ["demo/m"]}},
            "state": {"backend": "memory"},
        }
    )
    for params in ({"after_id": str(2**63)}, {"after_id": "-1"}, {"limit": "0"}, {"limit": "100000"}):
        answer = httpx.get(server.url + "/admin/events", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.headers["x-sluicegate-trace-id"]


def test_an_unexpected_error_is_a_500_that_carries_the_trace_id() -> None:
    config = {"providers": {}, "models": {}, "state": {"backend": "memory"}, "audit": {"enabled": False}}
    app = create_app(build_runtime(Config.model_validate(config)), warm=False)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    server = UvicornThread(app).start()
    try:
        answer = httpx.get(server.url + "/broken")
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "internal_error"
        assert answer.headers["x-sluicegate-trace-id"]
        assert "a bug" not in answer.text
    finally:
        server.stop()
