"""The OpenAI Chat Completions wire protocol: OpenAI itself, vLLM, Ollama, LM Studio,
llama.cpp's server — anything with a compatible `base_url`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from sluicegate.errors import MalformedResponse, TruncatedStream
from sluicegate.present import present
from sluicegate.providers.base import SAMPLING_PARAMETERS, Capabilities
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
from sluicegate.providers.tokens import tiktoken_message_tokens, tiktoken_text_tokens
from sluicegate.types import (
    Chunk,
    Completion,
    CompletionRequest,
    ContentPart,
    EmbeddingRequest,
    Embeddings,
    FinishReason,
    Message,
    NamedTool,
    ResponseSchema,
    TextPart,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    TopLogprob,
    Usage,
)

CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly from where it stopped, "
    "without repeating anything and without any preamble."
)
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


CAPABILITIES = Capabilities(
    streaming=True,
    tools=True,
    json_mode=True,
    json_schema=True,
    vision=True,
    embeddings=True,
    parameters=SAMPLING_PARAMETERS | {"logprobs"},
)
TEXT_ONLY = replace(CAPABILITIES, vision=False)


class OpenAICompatibleProvider:
    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 600.0,
        addresses: AddressLookup | None = None,
        vision: bool = True,
    ) -> None:
        self._name = name
        self._capabilities = CAPABILITIES if vision else TEXT_ONLY
        all_headers = dict(headers or {})
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self._client = HttpClient(base_url, all_headers, timeout_s, addresses)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def generate(self, request: CompletionRequest) -> Completion:
        body = await self._client.call("/chat/completions", self._payload(request, stream=False), self._name)
        try:
            data = orjson.loads(body)
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            finish = _FINISH.get(choice.get("finish_reason") or "stop", "stop")
            calls = tuple(
                ToolCall(str(c["id"]), str(c["function"]["name"]), str(c["function"].get("arguments") or ""))
                for c in choice["message"].get("tool_calls") or ()
            )
            logprobs = _logprobs(choice.get("logprobs"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise MalformedResponse("unparseable chat completion", provider=self._name) from None
        usage = _usage(data.get("usage")) or await self._estimated_usage(request, text)
        return Completion(text, finish, usage, request.model, self._name, calls, logprobs)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        payload = self._payload(request, stream=True)
        last: Chunk | None = None
        async with (
            TranslatedErrors(self._name) as exchange,
            self._client.post_json("/chat/completions", payload) as response,
        ):
            if response.status != 200:
                body = await response.read()
                raise error_for_status(response.status, body, response.headers, self._name)
            exchange.receiving = True
            finish: FinishReason | None = None
            usage: Usage | None = None
            parts: list[str] = []
            received = events(response)
            async for event in received:
                if event.data == "[DONE]":
                    if finish is not None:
                        usage = usage or await self._estimated_usage(request, "".join(parts))
                        last = Chunk(finish_reason=finish, usage=usage)
                    break
                data = event_json(event.data, self._name)
                if "error" in data:
                    error = (
                        data["error"] if isinstance(data["error"], dict) else {"message": str(data["error"])}
                    )
                    kind = str(error.get("type") or error.get("code") or "server_error")
                    raise in_band_error(kind, str(error.get("message", "")), self._name)
                usage = _usage(data.get("usage")) or usage
                for choice in data.get("choices") or ():
                    delta = choice.get("delta") or {}
                    text = delta.get("content") or ""
                    # Most events carry text only: no call made to read what is absent.
                    raw_calls, raw_logprobs = delta.get("tool_calls"), choice.get("logprobs")
                    calls = _call_deltas(raw_calls, self._name) if raw_calls else ()
                    logprobs = _stream_logprobs(raw_logprobs, self._name) if raw_logprobs else ()
                    if text or calls or logprobs:
                        parts.append(text)
                        yield Chunk(text=text, tool_calls=calls, logprobs=logprobs)
                    if choice.get("finish_reason"):
                        finish = _FINISH.get(choice["finish_reason"], "stop")
            if last is not None:
                await drain(received)
        if last is None:
            raise TruncatedStream("stream ended without a finish reason and [DONE]", provider=self._name)
        # Yielded once the response is closed: a consumer that stops here leaves a reusable connection.
        yield last

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        return tiktoken_message_tokens(messages)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        # Floats on this hop whatever the client asked: the door encodes base64 itself.
        payload = present(
            model=request.model,
            input=[list(item) if isinstance(item, tuple) else item for item in request.inputs],
            encoding_format="float",
            dimensions=request.dimensions,
            user=request.user,
        )
        body = await self._client.call("/embeddings", payload, self._name)
        try:
            data = orjson.loads(body)
            items = sorted(data["data"], key=lambda item: int(item["index"]))
            vectors = tuple(tuple(float(x) for x in item["embedding"]) for item in items)
            prompt_tokens = int((data.get("usage") or {}).get("prompt_tokens") or 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MalformedResponse("unparseable embeddings response", provider=self._name) from None
        if len(vectors) != len(request.inputs):
            raise MalformedResponse(
                f"{len(vectors)} embeddings for {len(request.inputs)} inputs", provider=self._name
            )
        return Embeddings(vectors, Usage(prompt_tokens, 0), request.model, self._name)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _payload(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        messages: list[dict[str, Any]] = [_wire_message(m) for m in request.messages]
        if request.assistant_prefix:
            messages.append({"role": "assistant", "content": request.assistant_prefix})
            messages.append({"role": "user", "content": CONTINUE_INSTRUCTION})
        payload: dict[str, Any] = {"model": request.model, "messages": messages, "stream": stream}
        if stream:
            payload["stream_options"] = {"include_usage": True}
        optional = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "user": request.user,
            "presence_penalty": request.presence_penalty,
            "frequency_penalty": request.frequency_penalty,
            "logit_bias": request.logit_bias,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        if request.stop:
            payload["stop"] = list(request.stop)
        if request.response_schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": _wire_schema(request.response_schema),
            }
        elif request.json_mode:
            payload["response_format"] = {"type": "json_object"}
        if request.tools:
            payload["tools"] = [_wire_tool(tool) for tool in request.tools]
        if request.tool_choice is not None:
            choice = request.tool_choice
            payload["tool_choice"] = (
                {"type": "function", "function": {"name": choice.name}}
                if isinstance(choice, NamedTool)
                else choice
            )
        if request.parallel_tool_calls is not None:
            payload["parallel_tool_calls"] = request.parallel_tool_calls
        if request.logprobs:
            payload["logprobs"] = True
            if request.top_logprobs is not None:
                payload["top_logprobs"] = request.top_logprobs
        return payload

    async def _estimated_usage(self, request: CompletionRequest, text: str) -> Usage:
        return Usage(tiktoken_message_tokens(request.messages), tiktoken_text_tokens(text))


def _wire_message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.parts:
        wire["content"] = [_wire_part(part) for part in message.parts]
    if message.name:
        wire["name"] = message.name
    if message.tool_calls:
        wire["content"] = message.content or None  # OpenAI's shape for a message that only calls
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _logprobs(raw: Any) -> tuple[TokenLogprob, ...]:
    """OpenAI's `logprobs.content` (absent or null when not asked)."""
    if not raw:
        return ()
    return tuple(
        TokenLogprob(
            str(entry["token"]),
            float(entry["logprob"]),
            _bytes(entry.get("bytes")),
            tuple(
                TopLogprob(str(top["token"]), float(top["logprob"]), _bytes(top.get("bytes")))
                for top in entry.get("top_logprobs") or ()
            ),
        )
        for entry in raw.get("content") or ()
    )


def _stream_logprobs(raw: Any, provider: str) -> tuple[TokenLogprob, ...]:
    try:
        return _logprobs(raw)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise MalformedResponse("unparseable logprobs in a stream chunk", provider=provider) from None


def _bytes(raw: Any) -> tuple[int, ...] | None:
    return tuple(int(b) for b in raw) if raw is not None else None


def _wire_part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    return {"type": "image_url", "image_url": present(url=part.url, detail=part.detail)}


def _wire_schema(spec: ResponseSchema) -> dict[str, Any]:
    return present(name=spec.name, schema=spec.schema, strict=spec.strict, description=spec.description)


def _wire_tool(tool: ToolSpec) -> dict[str, Any]:
    function = present(
        name=tool.name, parameters=tool.parameters, description=tool.description, strict=tool.strict
    )
    return {"type": "function", "function": function}


def _call_deltas(raw: object, provider: str) -> tuple[ToolCallDelta, ...]:
    """A chunk's tool-call pieces, each as the upstream sent it: nothing merged, nothing reordered."""
    if not raw:
        return ()
    try:
        pieces = []
        for item in raw:  # type: ignore[attr-defined]
            function = item.get("function") or {}
            pieces.append(
                ToolCallDelta(
                    int(item["index"]),
                    str(item["id"]) if item.get("id") else None,
                    str(function["name"]) if function.get("name") else None,
                    str(function.get("arguments") or ""),
                )
            )
        return tuple(pieces)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MalformedResponse("unparseable tool-call delta", provider=provider) from None


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    try:
        return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None
