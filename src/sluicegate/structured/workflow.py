"""Structured generation on the one pipeline (seed 002, seed 003 ADR-0001): the model is asked for
one of the registry's closed types (its JSON schema through the target's own mechanism — a
json_schema, a grammar on the embedded model — and in the system prompt); its text is read as it
streams and each element of the object's arrays goes out as an `element` frame the moment it
validates; the whole answer is then parsed strictly. An answer that does not validate is asked
again with its errors, at most `attempts` times; elements already sent are not sent twice. The
end is `complete` with the object, or an `error` frame saying why it never validated."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, assert_never

from pydantic import ValidationError

from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.structured.elements import ElementStream
from sluicegate.structured.extract import concise, parse
from sluicegate.structured.outcome import BudgetExhausted, Invalid, Ok, Outcome, Refused
from sluicegate.structured.schemas import OutputSchema
from sluicegate.types import (
    AcceptedFrame,
    CompleteFrame,
    CompletionRequest,
    ElementFrame,
    ErrorFrame,
    Frame,
    GuardrailFrame,
    Message,
    ResponseSchema,
    TokenFrame,
    Usage,
)

REASK = (
    "Your answer did not validate against the schema:\n{errors}\n"
    "Answer again with the whole JSON object, corrected. JSON only."
)


class FrameSource(Protocol):
    def run(self, request: PipelineRequest, ctx: RequestContext) -> AsyncGenerator[Frame, None]: ...


@dataclass(frozen=True, slots=True)
class StructuredRequest:
    schema: OutputSchema
    text: str  # the user's input
    role: str
    caller: Caller
    max_tokens: int = 2048
    attempts: int = 3
    # How the shape reaches the model: every target of the role enforces the JSON schema itself
    # ("schema"), or JSON only ("json", the schema in the prompt), or nothing ("prompt").
    enforced: Literal["schema", "json", "prompt"] = "prompt"


def system_prompt(schema: OutputSchema, *, with_schema: bool) -> str:
    """What to produce. The JSON schema itself is written here only for a route with a target that
    cannot be held to it natively (json_schema, a forced tool, a grammar): elsewhere it would only
    cost prompt tokens (about 500 for an architecture artifact)."""
    told = f"You produce {schema.name}: {schema.description}\nAnswer with one JSON object and nothing else."
    if with_schema:
        told += (
            f" It must satisfy this JSON schema:\n{json.dumps(schema.json_schema(), separators=(',', ':'))}"
        )
    return told


class StructuredWorkflow:
    def __init__(self, pipeline: FrameSource) -> None:
        self._pipeline = pipeline

    async def run(self, asked: StructuredRequest, ctx: RequestContext) -> AsyncGenerator[Frame, None]:
        schema = asked.schema
        messages: tuple[Message, ...] = (
            Message("system", system_prompt(schema, with_schema=asked.enforced != "schema")),
            Message("user", asked.text),
        )
        first_turn = messages
        sent: dict[tuple[str, int], Any] = {}
        usage = Usage()
        outcome: Outcome[Any] = Invalid(("no attempt",), 0)
        for attempt in range(1, asked.attempts + 1):
            request = CompletionRequest(
                asked.role,
                messages,
                max_tokens=asked.max_tokens,
                json_mode=asked.enforced != "prompt",
                # Not `strict`: OpenAI's strict mode wants every field required (the check here is).
                response_schema=(
                    ResponseSchema(schema.name, schema.json_schema()) if asked.enforced == "schema" else None
                ),
            )
            pipeline_request = PipelineRequest(
                request, endpoint=f"/v1/generate/{schema.name}", caller=asked.caller
            )
            text: list[str] = []
            elements = ElementStream()
            async for frame in self._pipeline.run(pipeline_request, ctx):
                if isinstance(frame, TokenFrame):
                    text.append(frame.text)
                    for out in self._elements(schema, elements.feed(frame.text), sent):
                        yield out
                elif isinstance(frame, CompleteFrame):
                    usage = usage + frame.usage
                elif isinstance(frame, AcceptedFrame) and attempt > 1:
                    continue  # the door learned of acceptance on the first attempt
                else:
                    yield frame
            answer = "".join(text)
            parsed = parse(answer, schema.adapter)
            if parsed.errors == ():
                outcome = Ok(parsed.value)
                break
            outcome = Invalid(parsed.errors, attempt)
            told = REASK.format(errors="\n".join(f"- {e}" for e in parsed.errors))
            # Only the last answer goes back with its errors: a small context holds no history.
            messages = (*first_turn, Message("assistant", answer), Message("user", told))
        match outcome:
            case Ok(value=value):
                yield CompleteFrame(
                    trace_id=ctx.trace_id,
                    route=f"generate/{asked.role}",
                    usage=usage,
                    object=schema.adapter.dump_python(value, mode="json"),
                )
            case Invalid(errors=errors, attempts=attempts):
                detail = "; ".join(errors[:3])
                yield ErrorFrame(
                    type="schema_violation",
                    message=f"No valid {schema.name} after {attempts} attempts: {detail}",
                    retryable=True,
                )
            case Refused(reason=reason):
                yield ErrorFrame(type="refused", message=reason, retryable=False)
            case BudgetExhausted(needed=needed, remaining=remaining):
                yield ErrorFrame(
                    type="budget_exhausted",
                    message=f"needs {needed} tokens, {remaining} left",
                    retryable=False,
                )
            case _ as unreachable:
                assert_never(unreachable)

    @staticmethod
    def _elements(schema: OutputSchema, found: list[Any], sent: dict[tuple[str, int], Any]) -> list[Frame]:
        """Each streamed element validated by its own type; one sent before (an earlier attempt)
        is not sent again; one that fails is reported, and the reask repairs it."""
        frames: list[Frame] = []
        for element in found:
            adapter = schema.streamed.get(element.field)
            if adapter is None:
                continue
            key = (element.field, element.index)
            try:
                value = adapter.dump_python(adapter.validate_python(element.value), mode="json")
            except ValidationError as exc:
                reason = "; ".join(concise(exc, limit=2))
                frames.append(
                    GuardrailFrame(
                        "structured", f"invalid {element.field}[{element.index}]: {reason}", "flag", (0, 0)
                    )
                )
                continue
            if sent.get(key) == value:
                continue
            sent[key] = value
            frames.append(ElementFrame({"field": element.field, "index": element.index, "value": value}))
        return frames
