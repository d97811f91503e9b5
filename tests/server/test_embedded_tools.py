"""Tool calls and JSON output on the embedded model, for real, through the gateway with the
official client: a fully offline install can run a tool loop and `parse()` a Pydantic model.

The grammar guarantees the shape (a call of an offered tool whose arguments satisfy its schema,
JSON that satisfies the response schema); which tool a 135M model picks is measured in
`benchmarks/tools.py`, not asserted here."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel, ConfigDict

from sluicegate.testing.threads import UvicornThread

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the [local] extra"),
]


class PriceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    volume: int


class City(BaseModel):
    model_config = ConfigDict(extra="forbid")
    city: str
    country: str


def tool(name: str, description: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["additionalProperties"] = False
    return {"type": "function", "function": {"name": name, "description": description, "parameters": schema}}


TOOLS = [
    tool("get_price", "The price of a manga volume.", PriceQuery),
    tool("get_weather", "The weather in a city.", City),
]


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    from sluicegate.config import Config
    from sluicegate.runtime import build_runtime
    from sluicegate.server.app import create_app

    config = Config.model_validate(
        {
            "providers": {"local": {"type": "llamacpp", "models": ["smollm2-135m"]}},
            "models": {"agent": {"use": ["local/smollm2-135m"]}},
        }
    )
    server = UvicornThread(create_app(build_runtime(config))).start()
    yield openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    server.stop()


def ask(client: openai.OpenAI, content: str, **extra: Any) -> Any:
    return client.chat.completions.create(
        model="agent",
        messages=[{"role": "user", "content": content}],
        tools=TOOLS,  # type: ignore[arg-type]
        **{"max_tokens": 60, "temperature": 0, **extra},
    )


def test_a_required_call_is_an_offered_tool_with_arguments_its_schema_accepts(client: openai.OpenAI) -> None:
    reply = ask(client, "How much is One Piece volume 3?", tool_choice="required")
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_")
    schemas: dict[str, type[BaseModel]] = {"get_price": PriceQuery, "get_weather": City}
    schemas[call.function.name].model_validate_json(call.function.arguments)


def test_a_named_tool_is_the_one_called_and_streams_in_pieces(client: openai.OpenAI) -> None:
    chunks = list(
        ask(
            client,
            "Weather in Lyon?",
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            stream=True,
        )
    )
    pieces = [p for c in chunks if c.choices for p in c.choices[0].delta.tool_calls or ()]
    assert pieces[0].function.name == "get_weather"
    assert pieces[0].id
    City.model_validate_json("".join(p.function.arguments or "" for p in pieces))
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_a_two_turn_loop_ends_in_words(client: openai.OpenAI) -> None:
    first = ask(client, "How much is Akira volume 1?", tool_choice="required").choices[0].message
    call = first.tool_calls[0]
    second = client.chat.completions.create(
        model="agent",
        messages=[
            {"role": "user", "content": "How much is Akira volume 1?"},
            first.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "12.50 EUR"},
        ],
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice="none",
        max_tokens=30,
        temperature=0,
    )
    assert second.choices[0].finish_reason in ("stop", "length")
    assert second.choices[0].message.content
    assert not second.choices[0].message.tool_calls


def test_parse_returns_a_pydantic_object(client: openai.OpenAI) -> None:
    reply = client.beta.chat.completions.parse(
        model="agent",
        messages=[{"role": "user", "content": "Name a city and its country."}],
        response_format=City,
        max_tokens=40,
        temperature=0,
    )
    assert isinstance(reply.choices[0].message.parsed, City)


def test_json_object_streams_a_json_object(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="agent",
        messages=[{"role": "user", "content": "Describe a cat in JSON."}],
        response_format={"type": "json_object"},
        max_tokens=120,
        temperature=0,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert isinstance(json.loads(text), dict)


def test_a_call_cut_off_by_max_tokens_is_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="raise max_tokens"):
        ask(client, "How much is One Piece volume 3?", tool_choice="required", max_tokens=5)


def test_a_schema_with_a_remote_ref_is_refused(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}
    with pytest.raises(openai.BadRequestError, match="only local"):
        client.chat.completions.create(
            model="agent",
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
            max_tokens=5,
        )
