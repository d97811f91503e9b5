"""The OpenAI Chat Completions request as it arrives (its messages in `wire_messages`), its
translation to our types, and pydantic's complaints as 400s that name the field."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    field_validator,
)

from sluicegate.errors import InvalidRequest
from sluicegate.pipeline.choices import MAX_CHOICES
from sluicegate.server.wire_messages import (
    MESSAGE_ONLY,
    NOT_YET_UNLESS_NEUTRAL,
    TAGS_AFTER_INDEX,
    TOOL_NAME,
    AnyWireMessage,
    Empty,
    EmptyMap,
    neutral_only,
    whole_number,
)
from sluicegate.types import (
    CompletionRequest,
    NamedTool,
    ResponseSchema,
    ToolSpec,
)

MAX_INT32 = 2**31 - 1
# A function offered without `parameters` takes none (OpenAI's reading).
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
# A number must be sent as a number and a boolean as a boolean: "10" or "yes" would otherwise be
# coerced without a word, and a client with such a bug would never learn of it.
StrictFloat = Annotated[float, Strict()]

# The names pydantic gives union members and validators in an error's location (not field names).
_TYPE_IN_LOCATION = re.compile(
    r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|function-[a-z-]+\[.*\]|tagged-union\[.*\]"
    r"|constrained-[a-z]+|literal\[.*\]|[A-Z][A-Za-z0-9]*)$"
)


class WireFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=TOOL_NAME)]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class WireTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: WireFunction


class WireFunctionName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=TOOL_NAME)]


class WireNamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: WireFunctionName


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: StrictBool = False


class WireJsonSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=TOOL_NAME)]
    description: str | None = None
    # OpenAI's field is named `schema`, which pydantic models reserve: hence the alias.
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: StrictBool | None = None


class PlainFormat(BaseModel):
    """`text` or `json_object`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object"]

    def schema_for(self) -> ResponseSchema | None:
        return None


class SchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["json_schema"]
    json_schema: WireJsonSchema

    def schema_for(self) -> ResponseSchema:
        spec = self.json_schema
        schema = spec.json_schema if spec.json_schema is not None else {"type": "object"}
        return ResponseSchema(spec.name, schema, spec.strict, spec.description)


ResponseFormat = Annotated[PlainFormat | SchemaFormat, Field(discriminator="type")]
FORMAT_TYPES = frozenset({"text", "json_object", "json_schema"})


class ChatCompletionRequest(BaseModel):
    """The fields sluicegate understands. Anything else is refused with a 400 that names it, as
    OpenAI refuses it: a gateway that ignored a field would change the answer without a word."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(min_length=1, max_length=256)]
    messages: Annotated[list[AnyWireMessage], Field(min_length=1)]
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[StrictInt, Field(ge=1, le=MAX_INT32)] | None = None
    max_completion_tokens: Annotated[StrictInt, Field(ge=1, le=MAX_INT32)] | None = None
    temperature: Annotated[StrictFloat, Field(ge=0, le=2)] | None = None
    top_p: Annotated[StrictFloat, Field(ge=0, le=1)] | None = None
    # Each choice is a whole run of the pipeline (pipeline/choices.py): a bound keeps one request
    # from holding many.
    n: Annotated[StrictInt, Field(ge=1, le=MAX_CHOICES)] = 1
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    # JSON-safe integers: beyond 2**53, clients and parsers disagree about the value.
    seed: Annotated[StrictInt, Field(ge=-(2**53 - 1), le=2**53 - 1)] | None = None
    response_format: ResponseFormat | None = None
    user: Annotated[str, Field(max_length=256)] | None = None
    tools: Annotated[list[WireTool], Field(max_length=128)] | None = None
    tool_choice: Literal["auto", "none", "required"] | WireNamedToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    presence_penalty: Annotated[StrictFloat, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[StrictFloat, Field(ge=-2, le=2)] | None = None
    # Token ids of the target's tokenizer -> a bias from -100 to 100 (OpenAI's ranges).
    # (Keys are checked to be token ids once the route is known: pipeline.llm.check_request.)
    logit_bias: dict[str, Annotated[StrictFloat, Field(ge=-100, le=100)]] | None = None
    functions: Empty | None = None
    function_call: Literal["none"] | None = None
    store: Literal[False] | None = None
    metadata: EmptyMap | None = None
    service_tier: Literal["auto", "default"] | None = None
    audio: None = None
    prediction: None = None
    reasoning_effort: None = None
    web_search_options: None = None
    prompt_cache_key: None = None
    safety_identifier: None = None
    verbosity: None = None
    cache: StrictBool | None = Field(
        default=None, description="sluicegate: cache this request even if not deterministic."
    )

    _not_yet = field_validator(
        *(name for name in NOT_YET_UNLESS_NEUTRAL if name not in MESSAGE_ONLY), mode="before"
    )(neutral_only)

    _whole = field_validator(
        "max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs", mode="before"
    )(staticmethod(whole_number))

    def to_request(self, provider_model: str) -> CompletionRequest:
        stop: tuple[str, ...] = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        return CompletionRequest(
            model=provider_model,
            messages=tuple(m.to_message() for m in self.messages),
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=stop,
            seed=self.seed,
            json_mode=self.response_format is not None and self.response_format.type != "text",
            response_schema=self.response_format.schema_for() if self.response_format is not None else None,
            user=self.user,
            extra={"cache": True} if self.cache else {},
            tools=tuple(
                ToolSpec(
                    t.function.name,
                    t.function.parameters if t.function.parameters is not None else EMPTY_PARAMETERS,
                    t.function.description,
                    t.function.strict,
                )
                for t in self.tools or ()
            ),
            tool_choice=(
                NamedTool(self.tool_choice.function.name)
                if isinstance(self.tool_choice, WireNamedToolChoice)
                else self.tool_choice
            ),
            parallel_tool_calls=self.parallel_tool_calls,
            # The neutral values (what clients send as defaults) ask for nothing: any target serves them.
            presence_penalty=self.presence_penalty or None,
            frequency_penalty=self.frequency_penalty or None,
            logit_bias=self.logit_bias or None,
            logprobs=bool(self.logprobs),
            top_logprobs=self.top_logprobs,
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


def validation_error(errors: list[Any]) -> InvalidRequest:
    """pydantic's most telling complaint, as a 400 that names the field. A field that takes a
    string or a list gets one complaint per branch; "should be a valid string" says nothing to
    someone who sent a list with a wrong item, so a type mismatch ranks below any other error,
    and a deeper location above a shallower one."""
    first = min(errors, key=lambda e: (str(e.get("type", "")).endswith("_type"), -len(e.get("loc", ()))))
    raw = [part for part in first.get("loc", ()) if part != "body"]
    # A tagged union's tag stands in the location after the field: a message's role or a content
    # part's type after its index, a response format's type after `response_format`. Users need
    # the field path.
    loc = [
        str(p)
        for i, p in enumerate(raw)
        if not (i and p in TAGS_AFTER_INDEX and isinstance(raw[i - 1], int))
        and not (i == 1 and raw[0] == "response_format" and p in FORMAT_TYPES)
    ]
    # Union members and literal tags show up in the location; the field path is what users need.
    field = ".".join(p for p in loc if not _TYPE_IN_LOCATION.match(p))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return InvalidRequest(f"Invalid field '{field}': {message}" if field else message, param=field or None)
