"""Scripts: deterministic replies, chunking, delays and faults, per model.

One script drives both the in-process `scripted` provider and the loopback mock
upstream servers (`sluicegate.testing`), so a test can describe an upstream's behaviour
once and meet it either through our port or over a real wire protocol.

    models:
      demo:
        - match: "capital of France"     # optional regex on the last user message
          text: "The capital of France is Paris."
        - echo: true                     # replies without `match` are used in turn
      flaky:
        - {text: "partial answer that dies", fault: truncate, fault_after_chunks: 2}
        - {fault: rate_limited, retry_after_s: 1}
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sluicegate.errors import ScriptError
from sluicegate.types import Message

WORD_CHUNKS = re.compile(r"\s*\S+\s*|\s+")


class Fault(StrEnum):
    server_error = "server_error"  # 500 (or, after chunks, an in-band error event)
    rate_limited = "rate_limited"  # 429 with Retry-After
    hang = "hang"  # never answers (or stops mid-stream)
    unavailable = "unavailable"  # connection refused / reset
    truncate = "truncate"  # the connection drops after `fault_after_chunks` chunks
    malformed = "malformed"  # an unparseable body or stream event
    error_event = "error_event"  # an error event inside a 200 stream
    bad_request = "bad_request"  # 400
    auth = "auth"  # 401


class ScriptedCall(BaseModel):
    """A tool call a scripted model makes: by default, of the first tool offered, with arguments
    that satisfy its schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    arguments: dict[str, Any] | None = None
    id: str | None = None
    # Where the streamed arguments' JSON text breaks into pieces (default: every 7 characters).
    split_at: list[int] | None = None


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    echo: bool = False
    # Which message `echo` repeats: the user's last one, or the system prompt (a model leaking it).
    echo_role: Literal["user", "system"] = "user"
    match: str | None = None
    chunks: list[str] | None = None
    chunk_chars: Annotated[int, Field(ge=0)] = 0
    first_delay_s: Annotated[float, Field(ge=0)] = 0.0
    chunk_delay_s: Annotated[float, Field(ge=0)] = 0.0
    finish_reason: Literal["stop", "length"] = "stop"
    fault: Fault | None = None
    fault_after_chunks: Annotated[int, Field(ge=0)] = 0
    retry_after_s: Annotated[float, Field(ge=0)] | None = None
    # The mock upstream quotes the API key it was sent in its error messages, as some providers do.
    echo_credentials: bool = False
    # A model that calls tools (finish reason tool_calls), in parallel when there are several.
    tool_calls: list[ScriptedCall] | None = None
    # A model that answers a tool's result in words: "The tool said: RESULT".
    answer_tool_result: bool = False
    # A model that follows the JSON output it is asked for (response_format; for Anthropic, the
    # forced tool): JSON that satisfies the schema.
    json_answer: bool = False

    def reply_text(self, messages: Sequence[Message]) -> str:
        if self.answer_tool_result:
            result = next((m.content for m in reversed(messages) if m.role == "tool"), None)
            return f"The tool said: {result}" if result is not None else self.text
        if self.echo:
            if self.echo_role == "system":
                return next((m.content for m in messages if m.role == "system"), "")
            return last_user_text(messages)
        return self.text

    def split(self, text: str) -> list[str]:
        """The chunks of `text`: explicit, fixed-size, or one per word (like tokens)."""
        if self.chunks is not None and not self.echo:
            return list(self.chunks)
        if self.chunk_chars:
            return [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        return WORD_CHUNKS.findall(text)


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, list[Reply]] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Script:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return cls.model_validate(data or {})

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Script:
        return cls.model_validate(dict(data))


def load_script(path: Path | None, inline: Mapping[str, Any] | None) -> Script:
    try:
        if path is not None:
            return Script.load(path)
        return Script.parse(inline or {})
    except (OSError, ValueError, ValidationError, yaml.YAMLError) as exc:
        raise ScriptError(f"invalid script: {exc}") from None


class ScriptPlayer:
    """Picks the reply for each call: the first matching `match`, else the next unmatched reply."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._turn: defaultdict[str, int] = defaultdict(int)
        self.calls: defaultdict[str, int] = defaultdict(int)

    @property
    def models(self) -> list[str]:
        return list(self._script.models)

    def knows(self, model: str) -> bool:
        return model in self._script.models

    def next_reply(self, model: str, messages: Sequence[Message]) -> Reply:
        self.calls[model] += 1
        replies = self._script.models.get(model, [])
        prompt = last_user_text(messages)
        for reply in replies:
            if reply.match is not None and re.search(reply.match, prompt):
                return reply
        unmatched = [r for r in replies if r.match is None]
        if not unmatched:
            return Reply(text="")
        reply = unmatched[self._turn[model] % len(unmatched)]
        self._turn[model] += 1
        return reply


def shaped(
    reply: Reply, text: str, stop: Sequence[str], max_tokens: int | None
) -> tuple[list[str], Literal["stop", "length"]]:
    """The reply's chunks as a model gives them: cut before the first stop sequence (not said),
    then at `max_tokens`, one chunk standing for one token."""
    finish = reply.finish_reason
    cuts = [at for at in (text.find(sequence) for sequence in stop if sequence) if at >= 0]
    if cuts:
        text, finish = text[: min(cuts)], "stop"
    chunks = reply.split(text)
    if max_tokens is not None and len(chunks) > max_tokens:
        chunks, finish = chunks[:max_tokens], "length"
    return chunks, finish


def continuation(text: str, prefix: str) -> str:
    """What is left of a scripted `text` once `prefix` was already said."""
    if prefix and text.startswith(prefix):
        return text[len(prefix) :]
    return text


def last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""
