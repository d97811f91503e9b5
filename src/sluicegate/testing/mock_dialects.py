"""How the mock upstreams write their answers in each wire protocol: a whole answer, the events of
a stream (text deltas, tool-call pieces, the closing events with usage), and errors."""

from __future__ import annotations

import json
from typing import Any

from sluicegate.providers.script import WORD_CHUNKS
from sluicegate.testing.mock_tools import MockCall


class Dialect:
    def __init__(self, model: str, credentials: str = "", top_logprobs: int | None = None) -> None:
        self.model = model
        # Some upstreams quote the key they were sent in their errors; this one can, on request.
        self.credentials = credentials
        # Asked for log probabilities (OpenAI's `logprobs: true`), with this many alternatives.
        self.top_logprobs = top_logprobs

    def _message(self, message: str) -> str:
        return f"{message}. Incorrect API key provided: {self.credentials}" if self.credentials else message

    def whole(self, text: str, finish: str, usage: tuple[int, int], calls: list[MockCall]) -> dict[str, Any]:
        raise NotImplementedError

    def opening(self, usage: tuple[int, int]) -> list[bytes]:
        return []

    def delta(self, text: str) -> bytes:
        raise NotImplementedError

    def call(self, index: int, call: MockCall) -> list[bytes]:
        """The events of one streamed tool call: its start, then its arguments in pieces."""
        raise NotImplementedError

    def closing(self, finish: str, usage: tuple[int, int]) -> list[bytes]:
        raise NotImplementedError

    def error_body(self, kind: str, message: str) -> bytes:
        return json.dumps({"error": {"message": self._message(message), "type": kind}}).encode()

    def error_event(self, kind: str, message: str) -> bytes:
        return b"data: " + self.error_body(kind, message) + b"\n\n"


class OpenAIDialect(Dialect):
    def whole(self, text: str, finish: str, usage: tuple[int, int], calls: list[MockCall]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["content"] = text or None
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
                for c in calls
            ]
        return {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": self._logprobs(text)}
            ],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        }

    def _logprobs(self, text: str) -> dict[str, Any] | None:
        """One entry per word-ish token of `text`, when asked: a made-up but well-formed log
        probability, its bytes, and `top_logprobs` alternatives (the token itself first)."""
        if self.top_logprobs is None or not text:
            return None

        def entry(token: str, rank: int) -> dict[str, Any]:
            alternative = token if rank == 0 else f"{token}~{rank}"
            return {
                "token": alternative,
                "logprob": -round(0.1 + rank + len(token) / 100, 4),
                "bytes": list(alternative.encode()),
            }

        content = [
            {**entry(token, 0), "top_logprobs": [entry(token, rank) for rank in range(self.top_logprobs)]}
            for token in WORD_CHUNKS.findall(text)
        ]
        return {"content": content, "refusal": None}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        logprobs = self._logprobs(str(delta.get("content") or ""))
        if logprobs is not None:
            choice["logprobs"] = logprobs
        data = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [choice],
        }
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    def opening(self, usage: tuple[int, int]) -> list[bytes]:
        return [self._chunk({"role": "assistant", "content": ""})]

    def delta(self, text: str) -> bytes:
        return self._chunk({"content": text})

    def call(self, index: int, call: MockCall) -> list[bytes]:
        first = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        pieces = [{"index": index, "function": {"arguments": piece}} for piece in call.pieces()]
        return [self._chunk({"tool_calls": [first]}), *(self._chunk({"tool_calls": [p]}) for p in pieces)]

    def closing(self, finish: str, usage: tuple[int, int]) -> list[bytes]:
        usage_chunk = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        }
        return [
            self._chunk({}, finish),
            b"data: " + json.dumps(usage_chunk).encode() + b"\n\n",
            b"data: [DONE]\n\n",
        ]


_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


class AnthropicDialect(Dialect):
    """(The Messages API has no log probabilities: `top_logprobs` is ignored, as Anthropic would.)"""

    def __init__(self, model: str, credentials: str = "", top_logprobs: int | None = None) -> None:
        super().__init__(model, credentials)
        self._text_open = True  # block 0 is the text; tool_use blocks follow it

    def whole(self, text: str, finish: str, usage: tuple[int, int], calls: list[MockCall]) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text or not calls else []
        content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in calls]
        return {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": _ANTHROPIC_STOP[finish],
            "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
        }

    @staticmethod
    def _event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    def opening(self, usage: tuple[int, int]) -> list[bytes]:
        message: dict[str, Any] = {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": usage[0], "output_tokens": 1},
        }
        return [
            self._event("message_start", {"type": "message_start", "message": message}),
            self._event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            self._event("ping", {"type": "ping"}),
        ]

    def delta(self, text: str) -> bytes:
        return self._event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        )

    def call(self, index: int, call: MockCall) -> list[bytes]:
        block = index + 1
        events = self._close_text()
        start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        events.append(
            self._event(
                "content_block_start", {"type": "content_block_start", "index": block, "content_block": start}
            )
        )
        events += [
            self._event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": block,
                    "delta": {"type": "input_json_delta", "partial_json": p},
                },
            )
            for p in call.pieces()
        ]
        events.append(self._event("content_block_stop", {"type": "content_block_stop", "index": block}))
        return events

    def _close_text(self) -> list[bytes]:
        if not self._text_open:
            return []
        self._text_open = False
        return [self._event("content_block_stop", {"type": "content_block_stop", "index": 0})]

    def closing(self, finish: str, usage: tuple[int, int]) -> list[bytes]:
        return [
            *self._close_text(),
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": _ANTHROPIC_STOP[finish]},
                    "usage": {"output_tokens": usage[1]},
                },
            ),
            self._event("message_stop", {"type": "message_stop"}),
        ]

    def error_body(self, kind: str, message: str) -> bytes:
        return json.dumps(
            {"type": "error", "error": {"type": kind, "message": self._message(message)}}
        ).encode()

    def error_event(self, kind: str, message: str) -> bytes:
        return b"event: error\ndata: " + self.error_body(kind, message) + b"\n\n"
