"""The pipeline's frames rendered as Chat Completions: a whole completion, or its chunks as
server-sent events (one choice, or several under their index), errors after the start in band."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson

from sluicegate.errors import GatewayError, StateError, StateUnavailable
from sluicegate.frames import frame_data
from sluicegate.pipeline.context import RequestContext
from sluicegate.server.errors import error_body
from sluicegate.server.wire import ChatCompletionRequest
from sluicegate.types import (
    AcceptedFrame,
    CardFrame,
    CompleteFrame,
    CorrectionFrame,
    ElementFrame,
    ErrorFrame,
    Frame,
    GuardrailFrame,
    TokenFrame,
    TokenLogprob,
    ToolCallFrame,
    Usage,
)

log = logging.getLogger("sluicegate.server")


async def first_shown(
    frames: AsyncIterator[tuple[int, Frame]], answers: list[ChatAnswer]
) -> tuple[int, Frame]:
    """Until any choice shows something: failures before it keep their status code."""
    async for index, frame in frames:
        answers[index].take(frame)
        if isinstance(frame, TokenFrame | ToolCallFrame | CompleteFrame):
            return index, frame
    raise RuntimeError("the pipeline ended without completing")  # never: it completes or raises


class ChatAnswer:
    """The pipeline's frames as Chat Completions renders them: tokens are the content; guardrail
    hits, corrections and cards ride on the final chunk (text already sent cannot be rewritten).
    With `n > 1`, one per choice: `index` is its place, `response_id` the answer's one id."""

    def __init__(
        self,
        body: ChatCompletionRequest,
        ctx: RequestContext,
        *,
        index: int = 0,
        response_id: str | None = None,
    ) -> None:
        self.body = body
        self.ctx = ctx
        self.index = index
        self.response_id = f"chatcmpl-{response_id or ctx.trace_id}"
        self.text: list[str] = []
        self.logprobs: list[dict[str, Any]] = []
        self.guardrails: list[dict[str, Any]] = []
        self.corrections: list[dict[str, Any]] = []
        self.cards: list[dict[str, Any]] = []
        # Each call as its pieces assembled: [id, name, arguments], by index.
        self.calls: dict[int, list[str]] = {}
        self.complete: CompleteFrame | None = None
        self.created = int(time.time())
        self._text_event: tuple[bytes, bytes] | None = None

    async def until_first_token(
        self, frames: AsyncIterator[Frame]
    ) -> TokenFrame | ToolCallFrame | CompleteFrame:
        async for frame in frames:
            if isinstance(frame, TokenFrame | ToolCallFrame | CompleteFrame):
                self.take(frame)
                return frame
            self.take(frame)
        raise RuntimeError("the pipeline ended without completing")  # never: it completes or raises

    def take(self, frame: Frame) -> None:
        match frame:
            case TokenFrame(text=text, logprobs=logprobs):
                self.text.append(text)
                self.logprobs += _logprob_entries(logprobs)
            case ToolCallFrame(index=index, id=call_id, name=name, arguments=arguments):
                call = self.calls.setdefault(index, ["", "", ""])
                call[0] = call_id or call[0]
                call[1] = name or call[1]
                call[2] += arguments
            case GuardrailFrame():
                self.guardrails.append(frame_data(frame))
            case CorrectionFrame():
                self.corrections.append(frame_data(frame))
            case CardFrame(card=card):
                self.cards.append(card)
            case CompleteFrame():
                self.complete = frame
            case AcceptedFrame() | ElementFrame() | ErrorFrame():
                pass  # no structured elements or in-band errors on this door: failures raise

    @property
    def finish_reason(self) -> str:
        return self.complete.finish_reason if self.complete is not None else "stop"

    @property
    def usage(self) -> Usage:
        return self.complete.usage if self.complete is not None else Usage()

    def completion_body(self, choices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.body.model,
            "choices": choices if choices is not None else [self.choice()],
            "usage": usage_body(self.usage),
            "x_sluicegate": self.extension(),
        }

    def choice(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "message": self._message(),
            "finish_reason": self.finish_reason,
            "logprobs": self._logprobs(self.logprobs),
        }

    def _message(self) -> dict[str, Any]:
        # A whole answer ships as corrected (post-stream checks, validation); a stream carries
        # the corrections as they come and the client applies them.
        text = self.complete.text if self.complete is not None else "".join(self.text)
        if not self.calls:
            return {"role": "assistant", "content": text}
        calls = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for _, (call_id, name, arguments) in sorted(self.calls.items())
        ]
        return {"role": "assistant", "content": text or None, "tool_calls": calls}

    @staticmethod
    def call_delta(frame: ToolCallFrame) -> dict[str, Any]:
        """One piece of a call as OpenAI streams it: id, type and name with its first piece only."""
        piece: dict[str, Any] = {"index": frame.index}
        if frame.id is not None:
            piece["id"] = frame.id
            piece["type"] = "function"
        function: dict[str, Any] = {"arguments": frame.arguments}
        if frame.name is not None:
            function["name"] = frame.name
        piece["function"] = function
        return {"tool_calls": [piece]}

    def chunk(self, delta: dict[str, Any], logprobs: tuple[TokenLogprob, ...] = ()) -> bytes:
        choice = {
            "index": self.index,
            "delta": delta,
            "finish_reason": None,
            "logprobs": self._logprobs(_logprob_entries(logprobs)),
        }
        return self._event({**self._base(), "choices": [choice]})

    def text_chunk(self, text: str) -> bytes:
        """`chunk({"content": text})` without log probabilities, from bytes made once per answer:
        the event around the text never changes, and a stream has one per token."""
        if self._text_event is None:
            whole = self.chunk({"content": ""})
            # Quotes inside JSON strings are escaped: this run of bytes is the delta's, only.
            before, _, after = whole.partition(b'"content":""')
            self._text_event = (before + b'"content":', after)
        before, after = self._text_event
        return before + orjson.dumps(text) + after

    def _logprobs(self, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
        """OpenAI's `logprobs` of a choice: null unless the request asked for them."""
        return {"content": entries, "refusal": None} if self.body.logprobs else None

    def finish(self) -> bytes:
        choice = {"index": self.index, "delta": {}, "finish_reason": self.finish_reason, "logprobs": None}
        return self._event({**self._base(), "choices": [choice], "x_sluicegate": self.extension()})

    def shown(self, frame: Frame) -> bytes | None:
        """A frame as the chunk a client sees as it comes, if it is one."""
        if isinstance(frame, TokenFrame):
            if self.body.logprobs:
                return self.chunk({"content": frame.text}, frame.logprobs)
            return self.text_chunk(frame.text)
        if isinstance(frame, ToolCallFrame):
            return self.chunk(self.call_delta(frame))
        if isinstance(frame, CompleteFrame):
            return self.finish()
        return None

    def endings(self, usage: Usage) -> list[bytes]:
        """What closes a stream: the usage chunk when asked for, then [DONE]."""
        usage_chunk = self._event({**self._base(), "choices": [], "usage": usage_body(usage)})
        return [usage_chunk, b"data: [DONE]\n\n"] if self.body.include_usage else [b"data: [DONE]\n\n"]

    def extension(self) -> dict[str, Any]:
        """sluicegate's own facts about the call; official clients ignore unknown fields."""
        call = self.ctx.call
        extension: dict[str, Any] = {
            "trace_id": self.ctx.trace_id,
            "route": self.ctx.route_label or f"explicit/{self.body.model}",
            "served_by": call.served_by,
            "guardrails": self.guardrails,
            "corrections": self.corrections,
            "failover": [
                {"from": f.from_target, "to": f.to_target, "error": f.error, "after_chars": f.after_chars}
                for f in call.failovers
            ],
        }
        if self.cards:
            extension["cards"] = self.cards
        return extension

    def _base(self) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.body.model,
        }

    @staticmethod
    def _event(data: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(data) + b"\n\n"


async def stream_one(
    answer: ChatAnswer, first: Frame, rest: AsyncGenerator[Frame, None]
) -> AsyncIterator[bytes]:
    yield answer.chunk({"role": "assistant", "content": ""})
    try:
        frame: Frame | None = first
        while frame is not None:
            shown = answer.shown(frame)
            if shown is not None:
                yield shown
            if isinstance(frame, CompleteFrame):
                for ending in answer.endings(answer.usage):
                    yield ending
            frame = await anext(rest, None)
            if frame is not None and not isinstance(frame, TokenFrame | ToolCallFrame):
                answer.take(frame)
    except (GatewayError, StateError) as exc:
        yield _error_event(exc)
    finally:
        await rest.aclose()


async def stream_choices(
    answers: list[ChatAnswer], first: tuple[int, Frame], rest: AsyncGenerator[tuple[int, Frame], None]
) -> AsyncIterator[bytes]:
    """`n > 1` streamed: each choice's chunks under its index, as they come; usage and [DONE]
    once every choice has finished."""
    for answer in answers:
        yield answer.chunk({"role": "assistant", "content": ""})
    try:
        item: tuple[int, Frame] | None = first
        while item is not None:
            shown = answers[item[0]].shown(item[1])
            if shown is not None:
                yield shown
            item = await anext(rest, None)
            if item is not None and not isinstance(item[1], TokenFrame | ToolCallFrame):
                answers[item[0]].take(item[1])
        for ending in answers[0].endings(sum((answer.usage for answer in answers), Usage())):
            yield ending
    except (GatewayError, StateError) as exc:
        yield _error_event(exc)
    finally:
        await rest.aclose()


def _error_event(exc: GatewayError | StateError) -> bytes:
    """A failure after the stream started, as an in-band error event."""
    error = StateUnavailable.of(exc) if isinstance(exc, StateError) else exc
    log.warning("stream failed after it started: %s", error.message)
    return b"data: " + orjson.dumps(error_body(error)) + b"\n\n"


def _logprob_entries(logprobs: tuple[TokenLogprob, ...]) -> list[dict[str, Any]]:
    return [
        {
            "token": entry.token,
            "logprob": entry.logprob,
            "bytes": list(entry.bytes) if entry.bytes is not None else None,
            "top_logprobs": [
                {
                    "token": top.token,
                    "logprob": top.logprob,
                    "bytes": list(top.bytes) if top.bytes is not None else None,
                }
                for top in entry.top
            ],
        }
        for entry in logprobs
    ]


def usage_body(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
