"""The vocabulary every layer shares: messages, requests, chunks, completions, usage.

These are our own types. Adapters translate wire formats into them at the edge, so the
rest of the system never sees a provider's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does, and its arguments' JSON schema."""

    name: str
    parameters: dict[str, Any]
    description: str | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made: `arguments` is the JSON text it wrote (as OpenAI's wire carries it)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed call: the first piece of call `index` carries its id and name, the
    following ones fragments of its arguments' JSON text, in order."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class NamedTool:
    """`tool_choice` naming one function: the model must call it."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedTool


@dataclass(frozen=True, slots=True)
class ResponseSchema:
    """`response_format: json_schema`: the answer must be JSON that satisfies `schema`."""

    name: str
    schema: dict[str, Any]
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a user message: an http(s) URL (the target fetches it) or a data URL."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """A sampled token's log probability, with the most likely alternatives when asked."""

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    # The text (all of it, when `parts` holds images too: what guardrails and counts read).
    content: str
    name: str | None = None
    # An assistant message's calls, and a tool message's answer to one of them.
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    # The content as parts in order, when it has more than text (images); empty for plain text.
    parts: tuple[ContentPart, ...] = ()

    @property
    def images(self) -> tuple[ImagePart, ...]:
        if not self.parts:  # plain text: asked of every message on every request
            return ()
        return tuple(part for part in self.parts if isinstance(part, ImagePart))


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One call to one model. `model` is the provider-side model name."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    json_mode: bool = False  # the answer must be JSON: an object, or what `response_schema` says
    response_schema: ResponseSchema | None = None
    user: str | None = None
    # Text the assistant has already said; the provider continues it (mid-stream failover).
    assistant_prefix: str = ""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None  # token id (the target's tokenizer) -> bias
    # Log probabilities of the answer's tokens, with `top_logprobs` alternatives each.
    logprobs: bool = False
    top_logprobs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def with_model(self, model: str) -> CompletionRequest:
        return self.but(model=model)

    def but(self, **changes: Any) -> CompletionRequest:
        """`dataclasses.replace(self, **changes)`, which calls the generated __init__ with every
        field by keyword (about 10 µs; the request path changes a request a few times): the same
        slots, copied, with `changes` made."""
        unknown = changes.keys() - _REQUEST_FIELD_SET
        if unknown:
            raise TypeError(f"CompletionRequest has no field {', '.join(sorted(unknown))}")
        copy = object.__new__(type(self))
        for name in _REQUEST_FIELDS:
            object.__setattr__(copy, name, changes[name] if name in changes else getattr(self, name))
        return copy

    @property
    def deterministic(self) -> bool:
        return self.temperature == 0


_REQUEST_FIELDS = tuple(f.name for f in fields(CompletionRequest))
_REQUEST_FIELD_SET = frozenset(_REQUEST_FIELDS)


EmbeddingInput = str | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Vectors for each input (a text, or token ids of the target's tokenizer); `model` is the
    provider-side model name."""

    model: str
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int | None = None
    user: str | None = None

    def with_model(self, model: str) -> EmbeddingRequest:
        return replace(self, model=model)


@dataclass(frozen=True, slots=True)
class Embeddings:
    """One vector per input, in the inputs' order."""

    vectors: tuple[tuple[float, ...], ...]
    usage: Usage
    model: str
    provider: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a streamed completion. The last chunk carries finish_reason and usage."""

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: FinishReason
    usage: Usage
    model: str
    provider: str
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[TokenLogprob, ...] = ()


# -- frames: what a guarded answer is made of, as a client sees it (ARCHITECTURE §4) -----------------


@dataclass(frozen=True, slots=True)
class TokenFrame:
    """Text that has passed the inline guardrails (placeholders resolved); its tokens' log
    probabilities when the request asked for them (only ever where no guardrail could change it)."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    event: Literal["token"] = "token"


@dataclass(frozen=True, slots=True)
class ToolCallFrame:
    """A piece of a tool call the model is making (ToolCallDelta), in order."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    event: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class GuardrailFrame:
    """A guardrail acted; `span` is its place in the scanned stream."""

    stage: str
    rule: str
    action: str
    span: tuple[int, int]
    listing: str | None = None
    event: Literal["guardrail"] = "guardrail"


@dataclass(frozen=True, slots=True)
class CorrectionFrame:
    """Text already streamed was wrong: the client replaces `replace` (in token-text coordinates)."""

    replace: tuple[int, int]
    text: str
    reason: str
    event: Literal["correction"] = "correction"


@dataclass(frozen=True, slots=True)
class CardFrame:
    """A resolved entity card (a product with price, stock and trust signals)."""

    card: dict[str, Any]
    event: Literal["card"] = "card"


@dataclass(frozen=True, slots=True)
class ElementFrame:
    """One validated element of a structured output."""

    element: dict[str, Any]
    event: Literal["element"] = "element"


@dataclass(frozen=True, slots=True)
class AcceptedFrame:
    """The pipeline has admitted the request (key, role, session): what follows is its answer. A
    door that answers with a status code learns here that failures from now on are frames; it is
    a signal for doors, not sent to clients."""

    trace_id: str
    event: Literal["accepted"] = "accepted"


@dataclass(frozen=True, slots=True)
class CompleteFrame:
    trace_id: str
    route: str
    usage: Usage
    text: str | None = None
    object: dict[str, Any] | None = None
    finish_reason: FinishReason = "stop"
    event: Literal["complete"] = "complete"


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    type: str
    message: str
    retryable: bool
    event: Literal["error"] = "error"


Frame = (
    AcceptedFrame
    | TokenFrame
    | ToolCallFrame
    | GuardrailFrame
    | CorrectionFrame
    | CardFrame
    | ElementFrame
    | CompleteFrame
    | ErrorFrame
)
