"""`model: auto` through a running gateway, driven by the official client: a shop look-up answered
by a deterministic tool with no model call, a coding request sent to the coding role, a reasoning
answer that fails validation and is corrected, the routing and validation endpoints, and a key
whose roles the router's choice is held to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from sluicegate.config.schema import Config
from sluicegate.runtime import build_runtime
from sluicegate.server import create_app
from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread
from tests.server.test_costs import create_key

VERDICT_INVALID = '{"verdict": "INVALID", "reasons": ["the height is wrong"]}'
VERDICT_VALID = '{"verdict": "VALID", "reasons": []}'
SCRIPT: dict[str, Any] = {
    "router-m": [{"text": '{"c": "chat"}'}],
    "code-m": [{"text": "def add(a, b):\n    return a + b"}],
    "reason-m": [
        {"match": "rejected by validation", "text": "It rises about 20.4 m."},
        {"text": "It rises 99 m."},
    ],
    "valid-m": [{"match": "Answer: It rises 99 m", "text": VERDICT_INVALID}, {"text": VERDICT_VALID}],
}


ROUTED = {
    "models": {
        "router": {"use": ["up/router-m"]},
        "reasoning": {"use": ["up/reason-m"]},
        "coding": {"use": ["up/code-m"]},
        "validation": {"use": ["up/valid-m"]},
    },
}


@pytest.fixture
def served(threaded_upstream: Callable[..., MockUpstream]) -> Iterator[tuple[UvicornThread, MockUpstream]]:
    upstream = threaded_upstream(SCRIPT)
    providers = {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": list(SCRIPT)}}
    runtime = build_runtime(Config.model_validate({"providers": providers, **ROUTED}))
    server = UvicornThread(create_app(runtime)).start()
    server.runtime = runtime  # type: ignore[attr-defined]
    yield server, upstream
    server.stop()


def client_for(server: UvicornThread, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


def test_a_price_question_is_answered_by_a_tool_with_no_model(
    served: tuple[UvicornThread, MockUpstream],
) -> None:
    server, upstream = served
    raw = client_for(server).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "how much is Starlit Bakery vol. 1?"}]
    )
    answer = raw.parse()
    assert raw.headers["x-sluicegate-route"] == "simple_tool_call/tool:price"
    assert "Starlit Bakery, Vol. 1" in (answer.choices[0].message.content or "")
    assert "14.99" in (answer.choices[0].message.content or "")  # the catalog's price
    assert answer.usage is not None
    assert answer.usage.total_tokens == 0
    assert upstream.requests == []


def test_spanish_order_status_is_answered_in_spanish(served: tuple[UvicornThread, MockUpstream]) -> None:
    server, upstream = served
    answer = client_for(server).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "¿Dónde está mi pedido #104215?"}]
    )
    text = answer.choices[0].message.content or ""
    assert "ORD-104215" in text
    assert "pedido" in text
    assert upstream.requests == []


def test_a_coding_request_goes_to_the_coding_role(served: tuple[UvicornThread, MockUpstream]) -> None:
    server, upstream = served
    raw = client_for(server).chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Write a Python function that adds two numbers."}],
        stream=True,
    )
    chunks = list(raw.parse())
    assert raw.headers["x-sluicegate-route"] == "coding_required/coding"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("def add")
    # The answer, then its validation (coding answers are validated by default).
    assert [r["model"] for r in upstream.requests] == ["code-m", "valid-m"]
    assert raw.headers["x-sluicegate-trace-id"]


def test_an_invalid_answer_is_retried_with_the_reasons_and_corrected(
    served: tuple[UvicornThread, MockUpstream],
) -> None:
    server, upstream = served
    answer = client_for(server).chat.completions.create(
        model="auto",
        messages=[
            {"role": "user", "content": "A ball is thrown up at 20 m/s. How high does it go? Solve it."}
        ],
    )
    assert answer.choices[0].message.content == "It rises about 20.4 m."
    corrections = (answer.model_extra or {})["x_sluicegate"]["corrections"]
    assert corrections
    assert corrections[0]["reason"] == "validation"
    asked = [r["model"] for r in upstream.requests]
    assert asked == ["reason-m", "valid-m", "reason-m", "valid-m"]
    retry = upstream.requests[2]["messages"][-1]["content"]
    assert "the height is wrong" in retry


def test_route_and_validate_endpoints(served: tuple[UvicornThread, MockUpstream]) -> None:
    server, _ = served
    decided = httpx.post(
        f"{server.url}/v1/route",
        json={
            "model": "auto",
            "messages": [{"role": "user", "content": "combien coûte Spirit Garden tome 2 ?"}],
        },
    ).json()
    assert decided["decision"] == "simple_tool_call"
    assert decided["tool"] == "price"
    assert decided["stage"] == "rules"
    assert decided["elapsed_ms"] >= 0
    again = httpx.post(
        f"{server.url}/v1/route",
        json={
            "model": "auto",
            "messages": [{"role": "user", "content": "combien coûte Spirit Garden tome 2 ?"}],
        },
    ).json()
    assert again["stage"] == "cache"
    verdict = httpx.post(
        f"{server.url}/v1/validate",
        json={"question": "What does it cost?", "answer": "It costs $12.49.", "context": "price: 11.99"},
    ).json()
    assert verdict["verdict"] == "invalid"
    assert any("12.49" in reason for reason in verdict["reasons"])
    assert "numbers" in verdict["checks"]
    bad = httpx.post(f"{server.url}/v1/validate", json={"question": "q"})
    assert bad.status_code == 400


def test_a_key_is_held_to_its_roles_by_the_routers_choice(served: tuple[UvicornThread, MockUpstream]) -> None:
    server, _ = served
    secret = create_key(server.runtime, server, user="cody", roles=["coding"])  # type: ignore[attr-defined]
    client = client_for(server, secret)
    coded = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Write a Python function that adds two numbers."}]
    )
    assert (coded.choices[0].message.content or "").startswith("def add")
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Solve 3x + 7 = 22 for x, step by step."}]
        )


TOOL_SCRIPT: dict[str, Any] = {
    "chat-m": [
        {"tool_calls": [{"name": "search", "arguments": {"series": "Starlit Bakery"}}]},
        {"answer_tool_result": True},
    ],
}


def test_a_routed_model_calls_the_gateways_tools_and_the_client_sees_only_the_answer(
    threaded_upstream: Callable[..., MockUpstream],
) -> None:
    upstream = threaded_upstream(TOOL_SCRIPT)
    providers = {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": list(TOOL_SCRIPT)}}
    runtime = build_runtime(
        Config.model_validate({"providers": providers, "models": {"router": {"use": ["up/chat-m"]}}})
    )
    server = UvicornThread(create_app(runtime)).start()
    try:
        chunks = list(
            client_for(server).chat.completions.create(
                model="auto",
                stream=True,
                messages=[
                    {"role": "user", "content": "Which manga would you recommend if I liked Starlit Bakery?"}
                ],
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert all(not c.choices or not c.choices[0].delta.tool_calls for c in chunks)
        assert text.startswith("The tool said:")
        assert "Starlit Bakery, Vol. 1" in text
        first, second = upstream.requests
        assert {t["function"]["name"] for t in first["tools"]} >= {"price", "search", "order_status"}
        tool_message = second["messages"][-1]
        assert tool_message["role"] == "tool"
        assert "untrusted" in tool_message["content"]  # fenced: data, never instructions
    finally:
        server.stop()


def test_the_router_models_answer_is_parsed_strictly() -> None:
    from sluicegate.routing.router import parse_router_answer

    assert parse_router_answer('{"c": "code"}') == "coding_required"
    assert parse_router_answer(' { "c" : "shop" } ') == "simple_tool_call"
    for wrong in ('{"c": "maths"}', '{"c": "chat", "why": "x"}', '"chat"', "chat", "{}"):
        with pytest.raises(ValueError, match=r"routing decision|Expecting value"):
            parse_router_answer(wrong)
