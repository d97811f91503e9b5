"""The Anthropic Messages API, streaming events included, normalised to our types."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sluicegate.errors import MalformedResponse, TruncatedStream
from sluicegate.providers.anthropic_wire import answer_tool, prefill, tool_fields, turns
from sluicegate.providers.base import Capabilities, no_embeddings
from sluicegate.providers.http import (
    HttpClient,
    TranslatedErrors,
    drain,
    error_for_status,
    event_json,
    events,
    in_band_error,
)
from sluicegate.providers.http1 import AddressLookup
from sluicegate.providers.tokens import estimate_message_tokens
from sluicegate.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    FinishReason,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


# JSON output is translated to a forced tool (anthropic_wire.answer_tool).
CAPABILITIES = Capabilities(
    streaming=True, tools=True, json_mode=True, json_schema=True, assistant_prefill=True, vision=True
)
TEXT_ONLY = replace(CAPABILITIES, vision=False)


class AnthropicProvider:
    def __init__(
        self,
        name: str,
        *,
        base_url: str = "https://api.anthropic.com",
        api_key: str | None = None,
        anthropic_version: str = "2023-06-01",
        default_max_tokens: int = 4096,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 600.0,
        addresses: AddressLookup | None = None,
        vision: bool = True,
    ) -> None:
        self._name = name
        self._capabilities = CAPABILITIES if vision else TEXT_ONLY
        self._default_max_tokens = default_max_tokens
        all_headers = {"anthropic-version": anthropic_version, **(headers or {})}
        if api_key:
            all_headers["x-api-key"] = api_key
        self._client = HttpClient(base_url, all_headers, timeout_s, addresses)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def generate(self, request: CompletionRequest) -> Completion:
        body = await self._client.call("/v1/messages", self._payload(request, stream=False), self._name)
        try:
            data = json.loads(body)
            answer = answer_tool(request)
            if answer is not None:
                # JSON output: the forced tool's input is the answer, a message, not a call.
                text = next(
                    json.dumps(block.get("input") or {})
                    for block in data["content"]
                    if block.get("type") == "tool_use" and block.get("name") == answer["name"]
                )
                calls: tuple[ToolCall, ...] = ()
                finish: FinishReason = "stop"
            else:
                text = "".join(
                    block.get("text", "") for block in data["content"] if block.get("type") == "text"
                )
                calls = tuple(
                    ToolCall(str(block["id"]), str(block["name"]), json.dumps(block.get("input") or {}))
                    for block in data["content"]
                    if block.get("type") == "tool_use"
                )
                finish = _STOP_REASONS.get(data.get("stop_reason") or "end_turn", "stop")
            usage = Usage(int(data["usage"]["input_tokens"]), int(data["usage"]["output_tokens"]))
        except (ValueError, KeyError, TypeError, AttributeError, StopIteration):
            raise MalformedResponse("unparseable message", provider=self._name) from None
        return Completion(text, finish, usage, request.model, self._name, calls)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        payload = self._payload(request, stream=True)
        last: Chunk | None = None
        async with (
            TranslatedErrors(self._name) as exchange,
            self._client.post_json("/v1/messages", payload) as response,
        ):
            if response.status != 200:
                body = await response.read()
                raise error_for_status(response.status, body, response.headers, self._name)
            exchange.receiving = True
            answer = answer_tool(request)
            state = _StreamState(answer["name"] if answer is not None else None)
            received = events(response)
            async for event in received:
                if event.event == "ping" or not event.data:
                    continue
                data = event_json(event.data, self._name)
                kind = data.get("type", event.event)
                if kind == "error":
                    error = data.get("error") or {}
                    raise in_band_error(
                        str(error.get("type", "api_error")), str(error.get("message", "")), self._name
                    )
                if kind == "message_stop":
                    last = state.final()
                    break
                text, calls = state.apply(kind, data)
                if text or calls:
                    yield Chunk(text=text, tool_calls=calls)
            if last is not None:
                await drain(received)
        if last is None:
            raise TruncatedStream("stream ended without message_stop", provider=self._name)
        # Yielded once the response is closed: a consumer that stops here leaves a reusable connection.
        yield last

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        raise no_embeddings(self._name)

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        # No local Claude tokenizer ships in a package; the documented estimate errs high.
        return estimate_message_tokens(messages)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _payload(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        messages = turns(request.messages, self._name)
        if request.assistant_prefix:
            prefill(messages, request.assistant_prefix)
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens or self._default_max_tokens,
            "stream": stream,
        }
        if system:
            payload["system"] = system
        if request.temperature is not None:
            payload["temperature"] = min(request.temperature, 1.0)
        if request.top_p is not None:
            payload["top_p"] = request.top_p
        if request.stop:
            payload["stop_sequences"] = list(request.stop)
        if request.user:
            payload["metadata"] = {"user_id": request.user}
        payload.update(tool_fields(request, self._name))
        return payload


class _StreamState:
    """What the events of one Messages stream have said so far: usage and the stop reason."""

    def __init__(self, answer_tool: str | None = None) -> None:
        self.input_tokens = self.output_tokens = 0
        self.finish: FinishReason | None = None
        # Content block index -> the tool call's index among the message's calls (OpenAI's index).
        self.calls: dict[int, int] = {}
        # JSON output: the forced tool whose input is the answer, and the block that carries it.
        self.answer_tool = answer_tool
        self.answer_block: int | None = None

    def apply(self, kind: str, data: dict[str, Any]) -> tuple[str, tuple[ToolCallDelta, ...]]:
        """Take one event in; the text and the tool-call pieces it carries, if any."""
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if self.answer_tool is not None and block.get("name") == self.answer_tool:
                self.answer_block = int(data.get("index", 0))
            elif block.get("type") == "tool_use":
                index = self.calls.setdefault(int(data.get("index", 0)), len(self.calls))
                return "", (ToolCallDelta(index, str(block.get("id")), str(block.get("name"))),)
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if self.answer_block is not None and int(data.get("index", 0)) == self.answer_block:
                return str(delta.get("partial_json") or ""), ()
            call = self.calls.get(int(data.get("index", 0)))
            if delta.get("type") == "input_json_delta" and call is not None:
                return "", (ToolCallDelta(call, arguments=str(delta.get("partial_json") or "")),)
        return self._apply_message(kind, data), ()

    def _apply_message(self, kind: str, data: dict[str, Any]) -> str:
        if kind == "message_start":
            usage = (data.get("message") or {}).get("usage") or {}
            self.input_tokens = int(usage.get("input_tokens") or 0)
            self.output_tokens = int(usage.get("output_tokens") or 0)
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return str(delta["text"])
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            if delta.get("stop_reason"):
                self.finish = _STOP_REASONS.get(str(delta["stop_reason"]), "stop")
                if self.answer_tool is not None and self.finish == "tool_calls":
                    self.finish = "stop"  # the forced answer tool: an answer, not a call
            usage = data.get("usage") or {}
            self.output_tokens = int(usage.get("output_tokens") or self.output_tokens)
            self.input_tokens = int(usage.get("input_tokens") or self.input_tokens)
        return ""

    def final(self) -> Chunk:
        return Chunk(finish_reason=self.finish or "stop", usage=Usage(self.input_tokens, self.output_tokens))
