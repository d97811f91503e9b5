"""Tool calls for the mock upstreams: which calls a scripted model makes (the first offered tool,
with arguments that satisfy its schema, unless the script names them), the tools a request
offered and the results it sent back, in either wire protocol."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from sluicegate.providers.script import Reply

ARGUMENT_PIECE = 7  # characters of arguments per streamed piece: calls arrive in many fragments


@dataclass(frozen=True, slots=True)
class MockCall:
    id: str
    name: str
    arguments: dict[str, Any]
    split_at: tuple[int, ...] | None = None

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)

    def pieces(self) -> list[str]:
        text = self.arguments_json
        cuts = (
            self.split_at if self.split_at is not None else range(ARGUMENT_PIECE, len(text), ARGUMENT_PIECE)
        )
        bounds = [0, *sorted({c for c in cuts if 0 < c < len(text)}), len(text)]
        return [text[a:b] for a, b in itertools.pairwise(bounds)] or [""]


def offered_tools(payload: dict[str, Any], wire: str) -> dict[str, dict[str, Any]]:
    """Name -> JSON schema of the tools a request offered, in order."""
    tools: dict[str, dict[str, Any]] = {}
    for tool in payload.get("tools") or ():
        if wire == "openai":
            function = tool.get("function") or {}
            tools[str(function.get("name"))] = function.get("parameters") or {}
        else:
            tools[str(tool.get("name"))] = tool.get("input_schema") or {}
    return tools


def calls_for(reply: Reply, payload: dict[str, Any], wire: str) -> list[MockCall]:
    forced = payload.get("tool_choice") if wire == "anthropic" else None
    if reply.json_answer and isinstance(forced, dict) and forced.get("type") == "tool":
        # Anthropic's way to JSON output: the forced tool, called with arguments that fit it.
        name = str(forced.get("name"))
        return [MockCall("toolu_answer", name, example_of(offered_tools(payload, wire).get(name, {})))]
    if not reply.tool_calls:
        return []
    tools = offered_tools(payload, wire)
    calls = []
    for number, scripted in enumerate(reply.tool_calls):
        name = scripted.name or next(iter(tools), "")
        arguments = scripted.arguments if scripted.arguments is not None else example_of(tools.get(name, {}))
        call_id = scripted.id or (f"call_{number}" if wire == "openai" else f"toolu_{number}")
        split = tuple(scripted.split_at) if scripted.split_at is not None else None
        calls.append(MockCall(call_id, name, arguments, split))
    return calls


def example_of(schema: dict[str, Any]) -> Any:
    """A value that satisfies a (simple) JSON schema: what a model that follows it would send."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return example_of(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {name: example_of(properties.get(name, {})) for name in required}
    if kind == "array":
        return [example_of(schema.get("items") or {})] * int(schema.get("minItems", 1))
    return {"string": "example", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(
        kind, "example"
    )


def tool_result_text(raw: dict[str, Any]) -> str | None:
    """The result an Anthropic user turn carries back (a tool_result block), as text."""
    content = raw.get("content")
    if not isinstance(content, list):
        return None
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            inner = block.get("content")
            if isinstance(inner, list):
                return "".join(part.get("text", "") for part in inner if isinstance(part, dict))
            return str(inner or "")
    return None


def json_text(payload: dict[str, Any]) -> str | None:
    """The JSON an OpenAI request's response_format asks for, made to satisfy its schema."""
    response_format = payload.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(example_of((response_format.get("json_schema") or {}).get("schema") or {}))
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": "example"})
    return None
