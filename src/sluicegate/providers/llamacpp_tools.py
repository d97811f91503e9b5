"""Tool calls and JSON output on the embedded model, by grammar.

A small local model has no tool-calling format of its own, so we give it one: the answer is a
JSON object, `{"tool_calls": [{"name": ..., "arguments": {...}}]}` or (when it may answer in
words) `{"content": "..."}`, and llama.cpp's grammar (built from a JSON schema, in the worker)
constrains every sampled token to it. Whatever the model writes is then a well-formed call of a
tool it was offered, with arguments that satisfy that tool's schema; whether it chose the right
tool is another matter (measured in `benchmarks/tools.py`).

Pure functions only: the schema for the grammar, the prompt's tools section and transcript, and
the parse of the finished answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from sluicegate.errors import ProviderBadRequest
from sluicegate.types import CompletionRequest, Message, NamedTool, ToolCall, ToolSpec

T = TypeVar("T")

# How many calls one answer may hold when the caller asks for parallel calls (`parallel_tool_calls:
# true`): a bound keeps the grammar from letting the model list calls until max_tokens. Otherwise
# one: OpenAI's default permits parallel calls without requiring them, and SmolLM2-135M, allowed
# several, follows the right call with unrelated ones.
MAX_PARALLEL_CALLS = 4


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """How one request's answer is constrained: the JSON schema for the grammar (None: free text),
    and whether the answer is the tool-call envelope to unwrap (else it is the answer itself)."""

    schema: dict[str, Any] | None
    tool_envelope: bool


def plan_output(request: CompletionRequest, provider: str) -> OutputPlan:
    if request.tools and request.tool_choice != "none":
        plan = OutputPlan(tool_envelope_schema(request), tool_envelope=True)
    elif request.response_schema is not None:
        plan = OutputPlan(request.response_schema.schema, tool_envelope=False)
    elif request.json_mode:
        plan = OutputPlan({"type": "object"}, tool_envelope=False)
    else:
        return OutputPlan(None, tool_envelope=False)
    remote = _remote_ref(plan.schema)
    if remote is not None:
        # llama.cpp's schema converter would fetch it from the network, past the egress guard.
        raise ProviderBadRequest(
            f"the embedded model takes only local $ref ('#/...') in a JSON schema, not '{remote}'",
            provider=provider,
        )
    bound = _large_bound(plan.schema)
    if bound is not None:
        # llama.cpp writes a bound as that many nested grammar rules; past a few thousand the
        # worker crashes (measured: maxLength 2000 does, 1000 does not). Refused here, one request
        # can never take the model down for everyone.
        raise ProviderBadRequest(
            f"the embedded model's grammar takes bounds up to {MAX_GRAMMAR_BOUND}; the JSON schema "
            f"asks for '{bound[0]}': {bound[1]}",
            provider=provider,
        )
    return plan


MAX_GRAMMAR_BOUND = 1000
_BOUNDS = ("maxLength", "minLength", "maxItems", "minItems")


def _first(node: object, found_in: Callable[[dict[str, Any]], T | None]) -> T | None:
    """The first thing `found_in` finds in a JSON schema's objects, at any depth."""
    if isinstance(node, dict):
        here = found_in(node)
        if here is not None:
            return here
        values: Iterable[object] = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return None
    return next((found for value in values if (found := _first(value, found_in)) is not None), None)


def _large_bound(schema: object) -> tuple[str, int] | None:
    def bound(node: dict[str, Any]) -> tuple[str, int] | None:
        return next(
            ((k, v) for k in _BOUNDS if isinstance(v := node.get(k), int) and v > MAX_GRAMMAR_BOUND), None
        )

    return _first(schema, bound)


def _remote_ref(schema: object) -> str | None:
    def remote(node: dict[str, Any]) -> str | None:
        ref = node.get("$ref")
        return ref if isinstance(ref, str) and not ref.startswith("#") else None

    return _first(schema, remote)


def tool_envelope_schema(request: CompletionRequest) -> dict[str, Any]:
    choice = request.tool_choice
    callable_tools = [t for t in request.tools if not isinstance(choice, NamedTool) or t.name == choice.name]
    one_call = [
        {
            "type": "object",
            "properties": {"name": {"const": tool.name}, "arguments": _arguments_schema(tool)},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in callable_tools
    ]
    most = MAX_PARALLEL_CALLS if request.parallel_tool_calls and not isinstance(choice, NamedTool) else 1
    calls = {
        "type": "object",
        "properties": {
            "tool_calls": {"type": "array", "items": {"anyOf": one_call}, "minItems": 1, "maxItems": most}
        },
        "required": ["tool_calls"],
        "additionalProperties": False,
    }
    if choice in ("required",) or isinstance(choice, NamedTool):
        return calls
    words = {
        "type": "object",
        "properties": {"content": {"type": "string"}},
        "required": ["content"],
        "additionalProperties": False,
    }
    return {"anyOf": [calls, words]}


def _arguments_schema(tool: ToolSpec) -> dict[str, Any]:
    schema = dict(tool.parameters) or {"type": "object"}
    # An object with no declared properties would let the grammar write any JSON object; the
    # model's call must still be an object.
    schema.setdefault("type", "object")
    return schema


def tools_instructions(request: CompletionRequest) -> str:
    """The system prompt's section that tells the model which tools it has and how to call them.

    Names and descriptions only: the arguments' shape is the grammar's job. On the labelled set
    (benchmarks/tools.py) this wording chose the right tool 16/30 times where listing each tool's
    argument schema too chose it 11/30."""
    lines = ["You have these tools:"]
    lines += [f"- {tool.name}: {tool.description or tool.name}" for tool in request.tools]
    lines.append(
        'Choose the tool that answers the user. Answer with JSON: {"tool_calls": [{"name": <tool name>, '
        '"arguments": <arguments>}]}'
    )
    if request.tool_choice in (None, "auto"):
        lines.append('If no tool fits, answer with JSON: {"content": <your answer>}')
    return "\n".join(lines)


def transcript(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """Each message as (ChatML role, text): calls in the envelope the model writes, a tool's
    result as a user turn that names the tool (ChatML has no tool role this model knows)."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    turns: list[tuple[str, str]] = []
    for message in messages:
        if message.tool_calls:
            calls = [{"name": c.name, "arguments": _loads_or_text(c.arguments)} for c in message.tool_calls]
            envelope = {"tool_calls": calls}
            turns.append(("assistant", orjson.dumps(envelope).decode()))
        elif message.role == "tool":
            tool = names.get(message.tool_call_id or "", "the tool")
            turns.append(("user", f"Result of {tool}: {message.content}"))
        else:
            turns.append((message.role, message.content))
    return turns


def _loads_or_text(arguments: str) -> object:
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments


@dataclass(frozen=True, slots=True)
class EnvelopeAnswer:
    text: str
    calls: tuple[ToolCall, ...]


def read_envelope(text: str, provider: str) -> EnvelopeAnswer:
    """The finished answer, unwrapped: calls (each with a fresh id) or the words. The grammar
    makes anything else impossible unless max_tokens cut the answer off: cut-off words are
    returned as far as they go (the finish reason says `length`, as for any answer); a cut-off
    call is an error, because half a call is never delivered."""
    try:
        envelope = orjson.loads(text)
    except orjson.JSONDecodeError:
        words = _cut_off_words(text)
        if words is not None:
            return EnvelopeAnswer(words, ())
        # A caller's limit, not the model's health: not retried, not counted against the breaker.
        raise ProviderBadRequest(
            "max_tokens ran out while the embedded model was writing its tool call; raise max_tokens",
            provider=provider,
        ) from None
    if "content" in envelope:
        return EnvelopeAnswer(str(envelope["content"]), ())
    calls = tuple(
        ToolCall(f"call_{uuid.uuid4().hex[:24]}", str(call["name"]), orjson.dumps(call["arguments"]).decode())
        for call in envelope["tool_calls"]
    )
    return EnvelopeAnswer("", calls)


_WORDS_OPENING = re.compile(r'\s*\{\s*"content"\s*:\s*"')


def _cut_off_words(text: str) -> str | None:
    """The words of a `{"content": "...` envelope that max_tokens cut off; None if it is not one."""
    opening = _WORDS_OPENING.match(text)
    if opening is None:
        return None
    rest = text[opening.end() :]
    # The cut may fall inside an escape (`\`, `\u00e`): drop up to one escape's length.
    for trim in range(7):
        try:
            return str(orjson.loads('"' + rest[: len(rest) - trim] + '"'))
        except orjson.JSONDecodeError:
            continue
    return None
