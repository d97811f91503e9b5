"""Tool calling through the gateway with the official client, over the OpenAI-compatible and the
Anthropic adapters, streamed and not: calls reach the client whole and in order, a transcript with
calls and results reaches the upstream intact, and a target that cannot call tools refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from sluicegate.providers.script import Script, ScriptPlayer
from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
            "required": ["city", "unit"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
SCRIPT = {
    "caller": [{"tool_calls": [{}]}],
    "parallel": [
        {"tool_calls": [{"name": "get_weather"}, {"name": "get_time", "arguments": {"zone": "UTC"}}]}
    ],
    # Calls the first tool, then answers the result it is given back in words.
    "looper": [{"tool_calls": [{}]}, {"answer_tool_result": True}],
    "leaker": [
        {
            "tool_calls": [
                {
                    "name": "get_weather",
                    "arguments": {"city": "Call 415-555-0132 or ann@example.com", "n": 4111111111111111},
                }
            ]
        }
    ],
    "structured": [{"json_answer": True}],
    # Dies in the middle of its call's arguments (the call's start and one piece were sent).
    "cutter": [{"tool_calls": [{}], "fault": "server_error", "fault_after_chunks": 2}],
}
ADAPTERS = ["openai", "anthropic"]


def start(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread], **extra: Any
) -> tuple[openai.OpenAI, MockUpstream]:
    upstream = threaded_upstream(SCRIPT)
    models = list(SCRIPT)
    server = gateway(
        {
            **extra,
            "providers": {
                "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": models},
                "claude": {"type": "anthropic", "base_url": upstream.url, "models": models},
                "local": {"type": "scripted", "inline": {"models": {"m": [{"text": "no tools here"}]}}},
            },
            "models": {
                **{f"openai-{m}": {"use": [f"up/{m}"]} for m in models},
                **{f"anthropic-{m}": {"use": [f"claude/{m}"]} for m in models},
                "textonly": {"use": ["local/m"]},
                "mixed": {"use": ["local/m", "up/caller"]},
                "cut": {"use": ["up/cutter", "up/caller"]},
            },
        }
    )
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0), upstream


@pytest.fixture
def served(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> tuple[openai.OpenAI, MockUpstream]:
    return start(threaded_upstream, gateway)


@pytest.fixture
def unguarded(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> tuple[openai.OpenAI, MockUpstream]:
    """Inline guardrails off: nothing is held back, so pieces go out exactly as they came."""
    off = {"pii": "off", "competitors": "off", "profanity": "off"}
    return start(threaded_upstream, gateway, guardrails={"inline": off})


def ask(client: openai.OpenAI, model: str, **extra: Any) -> Any:
    messages = extra.pop("messages", [{"role": "user", "content": "weather please"}])
    return client.chat.completions.create(model=model, messages=messages, tools=[WEATHER, TIME], **extra)


def assembled(chunks: list[Any]) -> tuple[dict[int, dict[str, str]], list[str | None]]:
    """The calls as a client assembles them from deltas, and each chunk's finish reason."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for piece in choice.delta.tool_calls or ():
                call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += piece.id or ""
                call["name"] += (piece.function.name if piece.function else None) or ""
                call["arguments"] += (piece.function.arguments if piece.function else None) or ""
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    return calls, finishes


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_call_comes_back_whole(served: tuple[openai.OpenAI, MockUpstream], adapter: str) -> None:
    client, _ = served
    reply = ask(client, f"{adapter}-caller")
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example", "unit": "C"}
    assert call.id


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_streamed_calls_arrive_in_pieces_and_assemble(
    served: tuple[openai.OpenAI, MockUpstream], adapter: str
) -> None:
    client, _ = served
    chunks = list(ask(client, f"{adapter}-parallel", stream=True))
    calls, finishes = assembled(chunks)
    assert finishes == ["tool_calls"]
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["arguments"]) == {"city": "example", "unit": "C"}
    assert json.loads(calls[1]["arguments"]) == {"zone": "UTC"}
    assert all(call["id"] for call in calls.values())


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_with_the_guard_off_each_piece_goes_out_as_it_came(
    unguarded: tuple[openai.OpenAI, MockUpstream], adapter: str
) -> None:
    client, _ = unguarded
    chunks = list(ask(client, f"{adapter}-parallel", stream=True))
    pieces = [
        p.function.arguments for c in chunks if c.choices for p in (c.choices[0].delta.tool_calls or ())
    ]
    # The mock sends each call's start, then its arguments 7 characters at a time.
    assert pieces == ["", '{"city"', ': "exam', 'ple", "', 'unit": ', '"C"}', "", '{"zone"', ': "UTC"', "}"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_two_turn_tool_loop(served: tuple[openai.OpenAI, MockUpstream], adapter: str) -> None:
    client, upstream = served
    model = f"{adapter}-looper"
    first = ask(client, model, tool_choice="auto", parallel_tool_calls=False)
    [call] = first.choices[0].message.tool_calls
    transcript = [
        {"role": "user", "content": "weather please"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "21 degrees and sunny"},
    ]
    second = ask(client, model, messages=transcript)
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "The tool said: 21 degrees and sunny"
    sent = upstream.requests[-1]
    if adapter == "openai":
        assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
        assert sent["messages"][2] == {
            "role": "tool",
            "content": "21 degrees and sunny",
            "tool_call_id": call.id,
        }
    else:
        assert sent["messages"][1]["content"][-1]["type"] == "tool_use"
        assert sent["messages"][2]["content"] == [
            {"type": "tool_result", "tool_use_id": call.id, "content": "21 degrees and sunny"}
        ]
        first_sent = upstream.requests[-2]
        assert first_sent["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]  # type: ignore[index]
        assert first_sent["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_tool_choice_translates_for_anthropic(served: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, upstream = served
    ask(client, "anthropic-caller", tool_choice="required")
    assert upstream.requests[-1]["tool_choice"] == {"type": "any"}
    ask(client, "anthropic-caller", tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert upstream.requests[-1]["tool_choice"] == {"type": "tool", "name": "get_time"}
    ask(client, "openai-caller", tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert upstream.requests[-1]["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}


def test_a_target_without_tools_refuses_and_failover_skips_it(
    served: tuple[openai.OpenAI, MockUpstream],
) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError) as refused:
        ask(client, "textonly")
    assert refused.value.code == "unsupported_by_target"
    assert "tool calling is not supported by local/m" in refused.value.message
    # In a chain, the target that cannot call tools is skipped (and the skip recorded).
    reply = ask(client, "mixed")
    assert reply.choices[0].message.tool_calls[0].function.name == "get_weather"
    attempts = reply.model_extra["x_sluicegate"]  # type: ignore[index]
    assert attempts["served_by"] == "up/caller"


def test_a_tool_choice_naming_no_offered_tool_is_refused(served: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError) as refused:
        ask(client, "openai-caller", tool_choice={"type": "function", "function": {"name": "launch"}})
    assert "launch" in refused.value.message
    with pytest.raises(openai.BadRequestError) as orphan:
        client.chat.completions.create(
            model="openai-caller",
            messages=[{"role": "tool", "content": "x"}],  # type: ignore[typeddict-item]
        )
    assert "tool_call_id" in orphan.value.message


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/completions", "/v1/messages", "/v1/audio/speech"])
def test_an_endpoint_we_do_not_serve_says_so_in_the_error_shape(
    gateway: Callable[..., UvicornThread], path: str
) -> None:
    import httpx

    server = gateway(
        {"providers": {"s": {"type": "scripted", "inline": {}}}, "models": {"r": {"use": ["s/m"]}}}
    )
    response = httpx.post(server.url + path, json={"model": "r", "input": "hi"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "endpoint_not_supported"
    assert f"POST {path} is not supported" in error["message"]


def test_a_stream_cut_in_the_middle_of_a_call_is_never_finished_by_another_provider(
    served: tuple[openai.OpenAI, MockUpstream],
) -> None:
    client, upstream = served
    with pytest.raises(openai.APIError) as failed:
        list(ask(client, "cut", stream=True))
    assert "in the middle of a tool call" in str(failed.value)
    assert upstream.calls["caller"] == 0  # the next target was not asked to continue a half call


def test_the_trail_names_tools_offered_and_called_and_budgets_count_them(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    import httpx

    upstream = threaded_upstream(SCRIPT)
    server = gateway(
        {
            "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["caller"]}},
            "models": {"r": {"use": ["up/caller"]}},
            "budgets": {"tokens_per_hour_per_user": 100_000},
        }
    )
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    reply = ask(client, "r", max_tokens=50)
    trace = reply.model_extra["x_sluicegate"]["trace_id"]  # type: ignore[index]
    events = httpx.get(server.url + "/admin/events", params={"trace_id": trace}).json()["events"]
    received = next(e["payload"] for e in events if e["type"] == "request_received")
    completed = next(e["payload"] for e in events if e["type"] == "request_completed")
    assert received["tools"] == ["get_weather", "get_time"]
    assert completed["tool_calls"] == ["get_weather"]  # names only: content storage is off
    assert "example" not in json.dumps(completed)
    with_tools = next(e["payload"]["tokens"] for e in events if e["payload"].get("decision") == "reserved")
    plain = client.chat.completions.create(
        model="r", max_tokens=50, messages=[{"role": "user", "content": "weather please"}]
    )
    trace = plain.model_extra["x_sluicegate"]["trace_id"]  # type: ignore[index]
    events = httpx.get(server.url + "/admin/events", params={"trace_id": trace}).json()["events"]
    without = next(e["payload"]["tokens"] for e in events if e["payload"].get("decision") == "reserved")
    assert with_tools > without + 20  # the definitions are part of the prompt the budget pays for


ARGUMENTS = st.dictionaries(
    st.text(alphabet="abcxyz_", min_size=1, max_size=6),
    # Short values from a small alphabet: nothing a guardrail would redact (that has its own test).
    st.one_of(st.text(alphabet='xyz0123 _-"\\é', max_size=6), st.integers(), st.booleans(), st.none()),
    max_size=4,
)


@pytest.mark.parametrize("adapter", ADAPTERS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    calls=st.lists(st.tuples(ARGUMENTS, st.lists(st.integers(0, 80), max_size=12)), min_size=1, max_size=3)
)
def test_any_split_of_a_call_stream_assembles_to_the_same_calls(
    served: tuple[openai.OpenAI, MockUpstream], adapter: str, calls: list[tuple[dict[str, Any], list[int]]]
) -> None:
    """However the upstream cuts the calls' arguments into pieces, the client assembles the calls
    the model made: nothing merged, reordered or lost on the way through either adapter."""
    client, upstream = served
    scripted = [{"name": "get_weather", "arguments": a, "split_at": cuts} for a, cuts in calls]
    upstream.player = ScriptPlayer(Script.parse({"models": {"caller": [{"tool_calls": scripted}]}}))
    chunks = list(ask(client, f"{adapter}-caller", stream=True))
    assembled_calls, finishes = assembled(chunks)
    assert finishes == ["tool_calls"]
    assert [json.loads(assembled_calls[i]["arguments"]) for i in sorted(assembled_calls)] == [
        a for a, _ in calls
    ]
    assert [assembled_calls[i]["arguments"] for i in sorted(assembled_calls)] == [
        json.dumps(a) for a, _ in calls
    ]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("stream", [False, True])
def test_pii_inside_tool_arguments_is_redacted_and_the_arguments_stay_json(
    served: tuple[openai.OpenAI, MockUpstream], adapter: str, stream: bool
) -> None:
    client, _ = served
    if stream:
        chunks = list(ask(client, f"{adapter}-leaker", stream=True))
        calls, _ = assembled(chunks)
        arguments = calls[0]["arguments"]
        final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
        hits = final.model_extra["x_sluicegate"]["guardrails"]  # type: ignore[index]
    else:
        reply = ask(client, f"{adapter}-leaker")
        arguments = reply.choices[0].message.tool_calls[0].function.arguments
        hits = reply.model_extra["x_sluicegate"]["guardrails"]  # type: ignore[index]
    parsed = json.loads(arguments)  # still JSON
    assert parsed == {"city": "Call [PHONE] or [EMAIL]", "n": 4111111111111111}  # strings only
    assert [(h["stage"], h["rule"]) for h in hits] == [
        ("tool_arguments", "pii.phone"),
        ("tool_arguments", "pii.email"),
    ]


class Weather(BaseModel):
    city: str
    degrees: int
    sunny: bool


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_parse_returns_the_model_over_each_adapter(
    served: tuple[openai.OpenAI, MockUpstream], adapter: str
) -> None:
    client, upstream = served
    reply = client.beta.chat.completions.parse(
        model=f"{adapter}-structured",
        messages=[{"role": "user", "content": "the weather in Paris"}],
        response_format=Weather,
    )
    assert reply.choices[0].message.parsed == Weather(city="example", degrees=1, sunny=True)
    assert reply.choices[0].finish_reason == "stop"
    sent = upstream.requests[-1]
    if adapter == "openai":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["strict"] is True
        assert sent["response_format"]["json_schema"]["schema"]["required"] == ["city", "degrees", "sunny"]
    else:  # a forced tool whose input is the answer
        assert sent["tool_choice"] == {"type": "tool", "name": "Weather"}
        assert sent["tools"][0]["input_schema"]["required"] == ["city", "degrees", "sunny"]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("stream", [False, True])
def test_json_object_is_honoured_over_each_adapter(
    served: tuple[openai.OpenAI, MockUpstream], adapter: str, stream: bool
) -> None:
    client, _ = served
    request = {
        "model": f"{adapter}-structured",
        "messages": [{"role": "user", "content": "answer in JSON"}],
        "response_format": {"type": "json_object"},
    }
    if stream:
        text = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(**request, stream=True)
            if c.choices
        )
    else:
        text = client.chat.completions.create(**request).choices[0].message.content or ""
    assert isinstance(json.loads(text), dict)


def test_a_schema_a_target_cannot_enforce_is_refused(served: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.chat.completions.parse(
            model="textonly", messages=[{"role": "user", "content": "hi"}], response_format=Weather
        )
    expected = "JSON schema output (response_format json_schema) is not supported by local/m"
    assert expected in refused.value.message
