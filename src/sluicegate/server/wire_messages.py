"""The messages of a Chat Completions request as they arrive — roles, content parts (text and
images), tool calls and tool answers — and the field rules the request shares with them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from sluicegate.types import ContentPart, ImagePart, Message, Role, TextPart, ToolCall

# What the gateway does not honour yet, accepted only with the value that asks for nothing (what
# clients send when they echo a message or fill in defaults) and refused with a 400 naming the
# field otherwise. Unknown fields are refused too, as OpenAI refuses them: never dropped unseen.
NOT_YET_UNLESS_NEUTRAL: dict[str, tuple[object, ...]] = {
    # request fields
    "functions": (None, []),
    "function_call": (None, "none"),
    "store": (None, False),
    "metadata": (None, {}),
    "service_tier": (None, "auto", "default"),
    "audio": (None,),
    "prediction": (None,),
    "reasoning_effort": (None,),
    "web_search_options": (None,),
    "prompt_cache_key": (None,),
    "safety_identifier": (None,),
    "verbosity": (None,),
    # message fields (an assistant message echoed back carries them empty)
    "refusal": (None,),
    "annotations": (None, []),
}
MESSAGE_ONLY = frozenset({"refusal", "annotations"})
TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"
Empty = Annotated[list[Any], Field(max_length=0)]
EmptyMap = Annotated[dict[str, Any], Field(max_length=0)]


def neutral_only(value: object, info: ValidationInfo) -> object:
    name = info.field_name or ""
    for neutral in NOT_YET_UNLESS_NEUTRAL[name]:
        if value == neutral and (value is None) == (neutral is None):
            return neutral
    allowed = " or ".join(
        "null" if n is None else orjson.dumps(n).decode() for n in NOT_YET_UNLESS_NEUTRAL[name]
    )
    raise ValueError(f"'{name}' is not supported by this gateway yet (only {allowed} is accepted)")


def whole_number(value: object) -> object:
    """JSON has one number type: 10.0 is the integer 10 by JSON Schema's rules; "10" is not. (A
    list's items likewise, for token ids.)"""
    if isinstance(value, list):
        return [whole_number(item) for item in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


IMAGE_URL_PATTERN = r"^(https?://|data:image/[A-Za-z0-9.+-]+;base64,)"
IMAGE_URL = re.compile(IMAGE_URL_PATTERN)


class WireTextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str

    def to_part(self) -> ContentPart:
        return TextPart(self.text)


class WireImageUrl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The pattern is stated in the schema (clients and the API's own fuzzing read it) and checked
    # by the validator below, which says in words what is wrong.
    url: Annotated[str, Field(min_length=1, json_schema_extra={"pattern": IMAGE_URL_PATTERN})]
    detail: Literal["auto", "low", "high"] | None = None

    @field_validator("url")
    @classmethod
    def _fetchable(cls, value: str) -> str:
        if not IMAGE_URL.match(value):
            raise ValueError("an image URL is an http(s) URL or a data URL ('data:image/png;base64,...')")
        return value


class WireImagePart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["image_url"]
    image_url: WireImageUrl

    def to_part(self) -> ContentPart:
        return ImagePart(self.image_url.url, self.image_url.detail)


WireContentPart = Annotated[WireTextPart | WireImagePart, Field(discriminator="type")]
PART_TYPES = frozenset({"text", "image_url"})


class WireFunctionCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=TOOL_NAME)]
    arguments: str


class WireToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=256)]
    type: Literal["function"] = "function"
    function: WireFunctionCall


class WireMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    # Each role says which parts it takes: text, and on a user message images too.
    content: str | Sequence[WireContentPart] | None = None
    name: str | None = None
    tool_call_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    tool_calls: list[WireToolCall] | None = None
    function_call: None = None
    audio: None = None
    refusal: None = None
    annotations: Empty | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _known_parts(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, list):
            for part in value:
                kind = part.get("type") if isinstance(part, dict) else None
                if not isinstance(kind, str) or kind not in PART_TYPES:
                    raise ValueError(
                        f"content parts of type '{kind}' are not supported by this gateway "
                        "(text and image_url are)"
                    )
                if kind == "image_url" and info.data.get("role") != "user":
                    raise ValueError("image_url parts belong on a 'user' message")
        return value

    _not_yet = field_validator("refusal", "annotations", mode="before")(neutral_only)

    def to_message(self) -> Message:
        parts: tuple[ContentPart, ...] = ()
        if isinstance(self.content, Sequence) and not isinstance(self.content, str):
            text = "".join(part.text for part in self.content if isinstance(part, WireTextPart))
            if any(isinstance(part, WireImagePart) for part in self.content):
                parts = tuple(part.to_part() for part in self.content)
        else:
            text = self.content or ""
        role: Role = "system" if self.role == "developer" else self.role
        calls = tuple(ToolCall(c.id, c.function.name, c.function.arguments) for c in self.tool_calls or ())
        return Message(
            role=role,
            content=text,
            name=self.name,
            tool_calls=calls,
            tool_call_id=self.tool_call_id,
            parts=parts,
        )


def _only_on(role: str) -> Callable[[type[BaseModel], object, ValidationInfo], object]:
    def check(cls: type[BaseModel], value: object, info: ValidationInfo) -> object:
        if value not in (None, []):
            raise ValueError(f"'{info.field_name}' belongs on {role} message")
        return value

    return check


class WireToolMessage(WireMessage):
    """A tool's answer to one of the assistant's calls."""

    role: Literal["tool"]
    content: str | list[WireTextPart] | None = None
    tool_call_id: Annotated[str, Field(min_length=1, max_length=256)]
    tool_calls: None = None

    _calls_elsewhere = field_validator("tool_calls", mode="before")(_only_on("an 'assistant'"))


class WireAssistantMessage(WireMessage):
    role: Literal["assistant"]
    content: str | list[WireTextPart] | None = None
    tool_call_id: None = None

    _answer_elsewhere = field_validator("tool_call_id", mode="before")(_only_on("a 'tool'"))


class WirePromptMessage(WireMessage):
    role: Literal["system", "developer", "user"]
    tool_call_id: None = None
    tool_calls: None = None

    _answer_elsewhere = field_validator("tool_call_id", mode="before")(_only_on("a 'tool'"))
    _calls_elsewhere = field_validator("tool_calls", mode="before")(_only_on("an 'assistant'"))


class WireInstructionMessage(WirePromptMessage):
    role: Literal["system", "developer"]
    content: str | list[WireTextPart] | None = None


class WireUserMessage(WirePromptMessage):
    role: Literal["user"]
    content: str | list[WireContentPart] | None = None


AnyWireMessage = Annotated[
    WireToolMessage | WireAssistantMessage | WireInstructionMessage | WireUserMessage,
    Field(discriminator="role"),
]
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# The tags pydantic puts in an error's location after a list index: a message's role, a part's type.
TAGS_AFTER_INDEX = ROLES | PART_TYPES
