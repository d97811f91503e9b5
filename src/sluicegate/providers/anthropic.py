"""The Anthropic Messages API, streaming events included, normalised to our types."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
from httpx_sse import EventSource

from sluicegate.errors import MalformedResponse, TruncatedStream
from sluicegate.providers.base import Capabilities
from sluicegate.providers.http import (
    build_client,
    error_for_status,
    event_json,
    in_band_error,
    translated_errors,
)
from sluicegate.providers.tokens import estimate_message_tokens
from sluicegate.types import Chunk, Completion, CompletionRequest, FinishReason, Message, Usage

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._name = name
        self._default_max_tokens = default_max_tokens
        all_headers = {"anthropic-version": anthropic_version, **(headers or {})}
        if api_key:
            all_headers["x-api-key"] = api_key
        self._client = build_client(base_url, all_headers, timeout_s, transport)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(streaming=True, tools=True, json_mode=False, assistant_prefill=True)

    async def generate(self, request: CompletionRequest) -> Completion:
        async with translated_errors(self._name):
            response = await self._client.post("/v1/messages", json=self._payload(request, stream=False))
            body = await response.aread()
        if response.status_code != 200:
            raise error_for_status(response.status_code, body, response.headers, self._name)
        try:
            data = json.loads(body)
            text = "".join(block.get("text", "") for block in data["content"] if block.get("type") == "text")
            finish = _STOP_REASONS.get(data.get("stop_reason") or "end_turn", "stop")
            usage = Usage(int(data["usage"]["input_tokens"]), int(data["usage"]["output_tokens"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MalformedResponse("unparseable message", provider=self._name) from None
        return Completion(text, finish, usage, request.model, self._name)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        payload = self._payload(request, stream=True)
        async with (
            translated_errors(self._name) as exchange,
            self._client.stream("POST", "/v1/messages", json=payload) as response,
        ):
            if response.status_code != 200:
                body = await response.aread()
                raise error_for_status(response.status_code, body, response.headers, self._name)
            exchange.receiving = True
            input_tokens = output_tokens = 0
            finish: FinishReason | None = None
            async for event in EventSource(response).aiter_sse():
                if event.event == "ping" or not event.data:
                    continue
                data = event_json(event.data, self._name)
                kind = data.get("type", event.event)
                if kind == "error":
                    error = data.get("error") or {}
                    raise in_band_error(
                        str(error.get("type", "api_error")), str(error.get("message", "")), self._name
                    )
                if kind == "message_start":
                    usage = (data.get("message") or {}).get("usage") or {}
                    input_tokens = int(usage.get("input_tokens") or 0)
                    output_tokens = int(usage.get("output_tokens") or 0)
                elif kind == "content_block_delta":
                    delta = data.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        yield Chunk(text=str(delta["text"]))
                elif kind == "message_delta":
                    delta = data.get("delta") or {}
                    if delta.get("stop_reason"):
                        finish = _STOP_REASONS.get(str(delta["stop_reason"]), "stop")
                    usage = data.get("usage") or {}
                    output_tokens = int(usage.get("output_tokens") or output_tokens)
                    input_tokens = int(usage.get("input_tokens") or input_tokens)
                elif kind == "message_stop":
                    yield Chunk(finish_reason=finish or "stop", usage=Usage(input_tokens, output_tokens))
                    return
        raise TruncatedStream("stream ended without message_stop", provider=self._name)

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        # No local Claude tokenizer ships in a package; the documented estimate errs high.
        return estimate_message_tokens(messages)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _payload(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        turns = _alternating_turns(request.messages)
        if request.assistant_prefix:
            # Anthropic continues a trailing assistant turn natively; it refuses trailing whitespace.
            prefix = request.assistant_prefix.rstrip()
            if turns and turns[-1]["role"] == "assistant":
                turns[-1]["content"] += prefix
            else:
                turns.append({"role": "assistant", "content": prefix})
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": turns,
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
        return payload


def _alternating_turns(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Anthropic wants user/assistant turns that alternate and start with the user."""
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": role, "content": message.content})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": "(continue)"})
    return turns
