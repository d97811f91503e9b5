"""The official `openai` client against our server, unchanged: content, streaming, usage,
finish reasons, and each error class."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

ANSWER = "The capital of France is Paris."


@pytest.fixture
def served(
    threaded_upstream: Callable[[dict[str, Any]], MockUpstream],
    gateway: Callable[[dict[str, Any]], UvicornThread],
) -> tuple[UvicornThread, MockUpstream]:
    upstream = threaded_upstream(
        {
            "gpt-test": [{"text": ANSWER}],
            "broken": [{"fault": "server_error"}],
            "slow": [{"text": "late", "first_delay_s": 5}],
            "claude-test": [{"text": ANSWER}],
            "cut": [{"text": ANSWER, "fault": "truncate", "fault_after_chunks": 2}],
            "busy": [{"text": ANSWER, "first_delay_s": 1}],
        }
    )
    server = gateway(
        {
            "providers": {
                "up": {
                    "type": "openai",
                    "base_url": upstream.url + "/v1",
                    "models": ["gpt-test", "broken", "slow", "cut", "busy"],
                },
                "claude": {"type": "anthropic", "base_url": upstream.url, "models": ["claude-test"]},
            },
            "models": {
                "reasoning": {"use": ["up/gpt-test"]},
                "writer": {"use": ["claude/claude-test"]},
                "doomed": {"use": ["up/broken", "up/broken"]},
                "sluggish": {"use": ["up/slow"], "default_timeout": 0.5},
                "resilient": {"use": ["up/cut", "claude/claude-test"]},
                "fragile": {"use": ["up/cut"]},
                "narrow": {"use": ["up/busy"], "max_concurrency": 1, "max_queue": 0},
            },
            "server": {"max_body_bytes": 4096},
        }
    )
    return server, upstream


@pytest.fixture
def client(served: tuple[UvicornThread, MockUpstream]) -> openai.OpenAI:
    return openai.OpenAI(base_url=served[0].url + "/v1", api_key="unused", max_retries=0)


def ask(client: openai.OpenAI, model: str = "reasoning", **extra: Any) -> Any:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is the capital of France?"}], **extra
    )


@pytest.mark.parametrize("role", ["reasoning", "writer"])
def test_non_stream_answer_with_usage(client: openai.OpenAI, role: str) -> None:
    reply = ask(client, role)
    assert reply.choices[0].message.content == ANSWER
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_stream_deltas_and_usage(client: openai.OpenAI) -> None:
    stream = ask(client, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(ask(client, stream=True))
    assert all(c.usage is None for c in chunks)


def test_max_tokens_gives_length_finish(client: openai.OpenAI) -> None:
    reply = ask(client, max_tokens=2)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 2


def test_direct_provider_model_id(client: openai.OpenAI) -> None:
    assert ask(client, "up/gpt-test").choices[0].message.content == ANSWER


def test_models_lists_roles_and_ids(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"reasoning", "writer", "up/gpt-test", "claude/claude-test"} <= ids


def test_models_retrieve_finds_roles_and_ids(client: openai.OpenAI) -> None:
    assert client.models.retrieve("reasoning").id == "reasoning"
    assert client.models.retrieve("up/gpt-test").owned_by == "up"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-role")
    assert caught.value.code == "model_not_found"


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        ask(client, "no-such-role")
    assert caught.value.code == "model_not_found"


def test_all_providers_failing_is_503_listing_attempts(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client, "doomed")
    assert caught.value.status_code == 503
    body: Any = caught.value.body
    errors = [a["error"] for a in body["attempts"]]
    assert errors[:2] == ["server_error", "server_error"]
    assert set(errors) <= {"server_error", "circuit_open"}
    assert all(a["provider"] == "up" and a["model"] == "broken" for a in body["attempts"])
    assert "What is the capital" not in caught.value.response.text


def test_all_providers_failing_on_stream_is_503(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        list(ask(client, "doomed", stream=True))
    assert caught.value.status_code == 503


def test_timeout_is_504(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client, "sluggish")
    assert caught.value.status_code == 504


def test_bad_field_is_400_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, temperature=7)
    assert "temperature" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": "yes"}, "stream"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"temperature": "0.5"}, "temperature"),
        ({"stream": True, "stream_options": {"include_usage": "true"}}, "stream_options.include_usage"),
        ({"stop": 7}, "stop"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
    ],
)
def test_a_wrongly_typed_field_is_refused_not_coerced_and_named(
    served: tuple[UvicornThread, MockUpstream], fields: dict[str, object], param: str
) -> None:
    body = {"model": "reasoning", "messages": [{"role": "user", "content": "hi"}], **fields}
    response = httpx.post(served[0].url + "/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("fields", "param", "fragment"),
    [
        # Forwarded to targets that honour them (test_sampling_parameters_...); refused by the others.
        (
            {"model": "writer", "presence_penalty": 0.5},
            "presence_penalty",
            "'presence_penalty' is not supported by claude/claude-test",
        ),
        ({"logprobs": True}, "logprobs", "not returned while the inline guardrails are on"),
        ({"model": "writer", "logit_bias": {"50256": -100}}, "logit_bias", "is not supported"),
        ({"logit_bias": {"the": 5}}, "logit_bias", "logit_bias keys are token ids"),
        # json_schema is honoured now (tests/server/test_tools.py); one without its schema is refused.
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema", "Field required"),
        ({"made_up_field": 1}, "made_up_field", "Extra inputs are not permitted"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
            "messages.0.content",
            "'input_audio' are not supported",
        ),
        # Tool messages are forwarded now (tests/server/test_tools.py); one answering no call is refused.
        ({"messages": [{"role": "tool", "content": "42"}]}, "messages.0.tool_call_id", "Field required"),
        (
            {"messages": [{"role": "user", "content": "hi", "tool_call_id": "call_1"}]},
            "messages.0.tool_call_id",
            "belongs on a 'tool' message",
        ),
    ],
)
def test_a_field_the_gateway_cannot_honour_is_refused_by_name_never_dropped(
    served: tuple[UvicornThread, MockUpstream], fields: dict[str, object], param: str, fragment: str
) -> None:
    body = {"model": "reasoning", "messages": [{"role": "user", "content": "hi"}], **fields}
    response = httpx.post(served[0].url + "/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert fragment in response.json()["error"]["message"]


def test_sampling_parameters_reach_the_targets_that_honour_them(
    served: tuple[UvicornThread, MockUpstream],
) -> None:
    server, upstream = served
    body = {
        "model": "reasoning",
        "messages": [{"role": "user", "content": "hi"}],
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "logit_bias": {"50256": -100},
    }
    assert httpx.post(server.url + "/v1/chat/completions", json=body).status_code == 200
    sent = upstream.requests[-1]
    assert (sent["presence_penalty"], sent["frequency_penalty"], sent["logit_bias"]) == (
        0.5,
        -0.25,
        {"50256": -100},
    )
    # The neutral values ask for nothing: an Anthropic target serves them (and is not sent them).
    neutral = {**body, "model": "writer", "presence_penalty": 0, "frequency_penalty": 0, "logit_bias": {}}
    assert httpx.post(server.url + "/v1/chat/completions", json=neutral).status_code == 200
    assert "presence_penalty" not in upstream.requests[-1]


def test_neutral_values_of_unhonoured_fields_pass_as_clients_send_them(
    served: tuple[UvicornThread, MockUpstream],
) -> None:
    echoed = {"role": "assistant", "content": "Hello", "refusal": None, "tool_calls": [], "annotations": []}
    body = {
        "model": "reasoning",
        "messages": [{"role": "user", "content": "hi"}, echoed, {"role": "user", "content": "again"}],
        "presence_penalty": 0,
        "frequency_penalty": 0.0,
        "logprobs": False,
        "store": False,
        "parallel_tool_calls": True,
    }
    assert httpx.post(served[0].url + "/v1/chat/completions", json=body).status_code == 200


def test_missing_messages_is_400(served: tuple[UvicornThread, MockUpstream]) -> None:
    response = httpx.post(served[0].url + "/v1/chat/completions", json={"model": "reasoning"})
    assert response.status_code == 400
    assert "messages" in response.json()["error"]["message"]


def test_oversize_body_is_413(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="reasoning", messages=[{"role": "user", "content": "x" * 10_000}]
        )
    assert caught.value.status_code == 413


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b"{not json", "not valid JSON"), (b'{"model": "\xff\xfe"}', "UTF-8"), (b"", "empty"), (b"[1, 2]", "")],
)
def test_malformed_bodies_are_400(
    served: tuple[UvicornThread, MockUpstream], body: bytes, fragment: str
) -> None:
    response = httpx.post(
        served[0].url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"
    assert "Traceback" not in response.text


def test_every_response_carries_a_trace_id(served: tuple[UvicornThread, MockUpstream]) -> None:
    for response in (httpx.get(served[0].url + "/healthz"), httpx.get(served[0].url + "/nope")):
        assert len(response.headers["x-sluicegate-trace-id"]) == 32
    assert httpx.get(served[0].url + "/nope").json()["error"]["type"] == "not_found_error"


def test_health_and_readiness(served: tuple[UvicornThread, MockUpstream]) -> None:
    assert httpx.get(served[0].url + "/healthz").status_code == 200
    assert httpx.get(served[0].url + "/readyz").json() == {"status": "ready"}


def test_mid_stream_failover_is_one_uninterrupted_stream(client: openai.OpenAI) -> None:
    chunks = list(ask(client, "resilient", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1
    extension: Any = finals[0].model_extra["x_sluicegate"]
    assert extension["failover"][0]["from"] == "up/cut"
    assert extension["failover"][0]["to"] == "claude/claude-test"
    assert extension["served_by"] == "claude/claude-test"


def test_stream_that_nobody_can_continue_ends_with_an_error_event(client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in ask(client, "fragile", stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "The capital "
    assert "Every provider failed" in caught.value.message


def test_role_at_capacity_is_429_with_retry_after(served: tuple[UvicornThread, MockUpstream]) -> None:
    import concurrent.futures

    client = openai.OpenAI(base_url=served[0].url + "/v1", api_key="unused", max_retries=0)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(ask, client, "narrow")
        time.sleep(0.3)
        with pytest.raises(openai.RateLimitError) as caught:
            ask(client, "narrow")
        assert first.result().choices[0].message.content == ANSWER
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.code == "overloaded"


def test_admin_circuits_shows_breaker_states(
    client: openai.OpenAI, served: tuple[UvicornThread, MockUpstream]
) -> None:
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            ask(client, "doomed")
    view = httpx.get(served[0].url + "/admin/circuits").json()
    states = {c["target"]: c["state"] for c in view["circuits"]}
    assert states["up/broken"] == "open"
    assert states["up/gpt-test"] == "closed"
    assert view["roles"]["narrow"]["max_concurrency"] == 1
