"""The embedded model's tool-call envelope: the grammar's schema per tool choice, the transcript
a model sees, and the unwrapping of its answer (no model needed)."""

from __future__ import annotations

import json

import pytest

from sluicegate.errors import ProviderBadRequest
from sluicegate.providers.llamacpp import chatml_prompt
from sluicegate.providers.llamacpp_tools import EnvelopeAnswer, plan_output, read_envelope, tools_instructions
from sluicegate.types import (
    CompletionRequest,
    Message,
    NamedTool,
    ResponseSchema,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

PRICE = ToolSpec(
    "get_price",
    {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
    "A price.",
)
STOCK = ToolSpec("get_stock", {"type": "object", "properties": {"sku": {"type": "string"}}})


def request(choice: ToolChoice | None = None, **extra: object) -> CompletionRequest:
    return CompletionRequest(
        "m",
        (Message("user", "hi"),),
        tools=(PRICE, STOCK),
        tool_choice=choice,
        **extra,  # type: ignore[arg-type]
    )


def test_auto_lets_the_model_call_any_tool_or_answer_in_words() -> None:
    schema = plan_output(request("auto"), "local").schema
    assert schema is not None
    calls, words = schema["anyOf"]
    names = [
        item["properties"]["name"]["const"] for item in calls["properties"]["tool_calls"]["items"]["anyOf"]
    ]
    assert names == ["get_price", "get_stock"]
    assert words["required"] == ["content"]
    # Each call's arguments are the tool's own schema, so the grammar enforces it.
    first = calls["properties"]["tool_calls"]["items"]["anyOf"][0]
    assert first["properties"]["arguments"]["required"] == ["title"]


def test_required_and_a_named_tool_force_a_call() -> None:
    required = plan_output(request("required"), "local").schema
    assert required is not None
    assert "anyOf" not in required
    named = plan_output(request(NamedTool("get_stock")), "local").schema
    assert named is not None
    items = named["properties"]["tool_calls"]["items"]["anyOf"]
    assert [i["properties"]["name"]["const"] for i in items] == ["get_stock"]
    assert named["properties"]["tool_calls"]["maxItems"] == 1


@pytest.mark.parametrize(("parallel", "most"), [(None, 1), (False, 1), (True, 4)])
def test_several_calls_only_when_the_caller_asks_for_parallel_calls(parallel: bool | None, most: int) -> None:
    schema = plan_output(request("required", parallel_tool_calls=parallel), "local").schema
    assert schema is not None
    assert schema["properties"]["tool_calls"]["maxItems"] == most


def test_tool_choice_none_and_json_output_plans() -> None:
    assert plan_output(request("none"), "local").schema is None
    as_json = plan_output(CompletionRequest("m", (), json_mode=True), "local")
    assert as_json.schema == {"type": "object"}
    assert not as_json.tool_envelope
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    shaped = plan_output(CompletionRequest("m", (), response_schema=ResponseSchema("x", schema)), "local")
    assert shaped.schema == schema


def test_a_remote_ref_is_refused_before_the_converter_could_fetch_it() -> None:
    schema = {"type": "object", "properties": {"a": {"items": [{"$ref": "https://example.com/s.json"}]}}}
    with pytest.raises(ProviderBadRequest, match="only local \\$ref"):
        plan_output(CompletionRequest("m", (), response_schema=ResponseSchema("x", schema)), "local")
    local = {"$defs": {"A": {"type": "string"}}, "type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}}
    assert plan_output(CompletionRequest("m", (), response_schema=ResponseSchema("x", local)), "local").schema


@pytest.mark.parametrize("keyword", ["maxLength", "minLength", "maxItems", "minItems"])
def test_a_bound_the_grammar_cannot_hold_is_refused_before_it_reaches_the_worker(keyword: str) -> None:
    """maxLength 2000 crashed the embedded worker (each crash one request, but any client could
    repeat it); bounds up to 1000 pass."""
    deep = {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"type": "string", keyword: 2000}}},
    }
    with pytest.raises(
        ProviderBadRequest, match=f"bounds up to 1000; the JSON schema asks for '{keyword}': 2000"
    ):
        plan_output(CompletionRequest("m", (), response_schema=ResponseSchema("x", deep)), "local")
    fine = {"type": "object", "properties": {"a": {"type": "string", keyword: 1000}}}
    assert (
        plan_output(CompletionRequest("m", (), response_schema=ResponseSchema("x", fine)), "local").schema
        == fine
    )


def test_the_prompt_lists_the_tools_and_renders_calls_and_results() -> None:
    messages = (
        Message("system", "Be brief."),
        Message("user", "price of Akira?"),
        Message("assistant", "", tool_calls=(ToolCall("c1", "get_price", '{"title": "Akira"}'),)),
        Message("tool", "12.50 EUR", tool_call_id="c1"),
    )
    prompt = chatml_prompt(messages, "", tools_section=tools_instructions(request("auto")))
    assert prompt.startswith("<|im_start|>system\nBe brief.\n\nYou have these tools:\n- get_price: A price.")
    assert (
        '<|im_start|>assistant\n{"tool_calls":[{"name":"get_price","arguments":{"title":"Akira"}}]}' in prompt
    )
    assert "<|im_start|>user\nResult of get_price: 12.50 EUR<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_the_answer_unwraps_into_calls_with_fresh_ids_or_words() -> None:
    answer = read_envelope(
        '{"tool_calls": [{"name": "get_price", "arguments": {"title": "Akira"}}]}', "local"
    )
    assert [(c.name, json.loads(c.arguments)) for c in answer.calls] == [("get_price", {"title": "Akira"})]
    assert answer.calls[0].id.startswith("call_")
    assert answer.text == ""
    assert read_envelope('{"content": "Hello"}', "local").text == "Hello"


def test_an_envelope_cut_by_max_tokens_is_a_clear_error() -> None:
    with pytest.raises(ProviderBadRequest, match="raise max_tokens"):
        read_envelope('{"tool_calls": [{"name": "get_pr', "local")


@pytest.mark.parametrize(
    ("cut", "words"),
    [
        ('{"content": "Hello, wor', "Hello, wor"),
        ('{"content": "say \\"hi', 'say "hi'),
        ('{"content": "caf\\u00e', "caf"),
        ('{ "content" : "', ""),
    ],
)
def test_words_cut_off_by_max_tokens_are_kept_as_far_as_they_go(cut: str, words: str) -> None:
    assert read_envelope(cut, "local") == EnvelopeAnswer(words, ())
