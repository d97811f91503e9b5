"""Our request in the Anthropic Messages shape: turns that alternate and start with the user, a
`system` apart, tools as `input_schema`, tool calls as `tool_use` blocks and their results as
`tool_result` blocks (consecutive results merged into one user turn, as the API requires), and
images as `image` blocks (a URL, or a data URL's bytes as base64)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sluicegate.errors import ProviderBadRequest
from sluicegate.present import present
from sluicegate.types import CompletionRequest, ContentPart, Message, NamedTool, TextPart, ToolSpec

ANSWER_DESCRIPTION = "Give the answer as this JSON."


def turns(messages: Sequence[Message], provider: str) -> list[dict[str, Any]]:
    """Plain text turns stay strings; a transcript with tool calls or images becomes content blocks."""
    if not any(m.tool_calls or m.tool_call_id is not None or m.parts for m in messages):
        return _text_turns(messages)
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message, provider)
        if out and out[-1]["role"] == role:
            out[-1]["content"] += blocks
        else:
            out.append({"role": role, "content": blocks})
    if not out or out[0]["role"] != "user":
        out.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continue)"}]})
    return out


def _blocks(message: Message, provider: str) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}]
    if message.parts:
        return [_part_block(part, provider) for part in message.parts]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    for call in message.tool_calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            raise ProviderBadRequest(
                f"the arguments of tool call {call.id} are not JSON; Anthropic needs an object",
                provider=provider,
            ) from None
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


_DATA_URL = re.compile(r"^data:(image/(?:jpeg|png|gif|webp));base64,(.+)$", re.DOTALL)


def _part_block(part: ContentPart, provider: str) -> dict[str, Any]:
    """A text part as a text block; an image as an image block, a data URL's bytes as base64."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if part.url.startswith("data:"):
        found = _DATA_URL.match(part.url)
        if found is None:
            raise ProviderBadRequest(
                "Anthropic takes images as JPEG, PNG, GIF or WebP: a data URL "
                "'data:image/(jpeg|png|gif|webp);base64,...'",
                provider=provider,
            )
        source = {"type": "base64", "media_type": found.group(1), "data": found.group(2)}
        return {"type": "image", "source": source}
    # Anthropic has no `detail`: it sizes the image itself.
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _text_turns(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n\n" + message.content
        else:
            out.append({"role": role, "content": message.content})
    if not out or out[0]["role"] != "user":
        out.insert(0, {"role": "user", "content": "(continue)"})
    return out


def prefill(out: list[dict[str, Any]], prefix: str) -> None:
    """Continue the assistant's text (mid-stream failover): Anthropic continues a trailing assistant
    turn natively, and refuses trailing whitespace."""
    prefix = prefix.rstrip()
    last = out[-1] if out and out[-1]["role"] == "assistant" else None
    if last is None:
        out.append({"role": "assistant", "content": prefix})
    elif isinstance(last["content"], str):
        last["content"] += prefix
    else:
        last["content"].append({"type": "text", "text": prefix})


def tool_fields(request: CompletionRequest, provider: str) -> dict[str, Any]:
    """`tools` and `tool_choice` for the payload (parallel calls off: `disable_parallel_tool_use`);
    JSON output as a forced tool (`answer_tool`)."""
    answer = answer_tool(request)
    if answer is not None:
        if request.tools:
            raise ProviderBadRequest(
                "response_format JSON together with tools cannot be translated for Anthropic targets",
                provider=provider,
            )
        return {"tools": [answer], "tool_choice": {"type": "tool", "name": answer["name"]}}
    fields: dict[str, Any] = {}
    if request.tools:
        fields["tools"] = [_tool(tool) for tool in request.tools]
    choice: dict[str, Any] | None = None
    match request.tool_choice:
        case NamedTool(name=name):
            choice = {"type": "tool", "name": name}
        case "required":
            choice = {"type": "any"}
        case "auto" | "none":
            choice = {"type": request.tool_choice}
        case None:
            choice = None
    if request.parallel_tool_calls is False and request.tools:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None:
        fields["tool_choice"] = choice
    return fields


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return present(
        name=tool.name, input_schema=tool.parameters, description=tool.description, strict=tool.strict
    )


def answer_tool(request: CompletionRequest) -> dict[str, Any] | None:
    """JSON output for Anthropic (response_format): a tool the model is made to call, whose input
    is the answer (`input_schema`: the response schema, or any object for json_object)."""
    if not request.json_mode:
        return None
    spec = request.response_schema
    if spec is None:
        return {"name": "json_answer", "description": ANSWER_DESCRIPTION, "input_schema": {"type": "object"}}
    description = spec.description or ANSWER_DESCRIPTION
    return present(name=spec.name, description=description, input_schema=spec.schema, strict=spec.strict)
