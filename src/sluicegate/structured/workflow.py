"""Structured generation on the one pipeline (seed 002, seed 003 ADR-0001): the model is asked for
one of the registry's closed types (its JSON schema through the target's own mechanism — a
json_schema, a grammar on the embedded model — and in the system prompt); its text is read as it
streams and each element of the object's arrays goes out as an `element` frame the moment it
validates; the whole answer is then parsed strictly. An answer that does not validate is asked
again with its errors, at most `attempts` times; elements already sent are not sent twice. The
end is `complete` with the object, or an `error` frame saying why it never validated."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, assert_never

from pydantic import ValidationError

from sluicegate.audit.events import Payload, TierOutcome
from sluicegate.budgets import BudgetToken
from sluicegate.guardrails.fence import FenceWrapper
from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.routing.roles import RouteSpec
from sluicegate.structured.elements import ElementStream
from sluicegate.structured.extract import concise, parse, refusal
from sluicegate.structured.outcome import BudgetExhausted, Invalid, Ok, Outcome, Refused
from sluicegate.structured.schemas import OutputSchema
from sluicegate.structured.tiers import (
    LLM_PLAIN,
    TIERS,
    ExampleSource,
    TierAttempt,
    TierSpec,
    outcome_label,
    prior_failure_summary,
)
from sluicegate.token_estimate import estimate_message_tokens
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
    budget_tokens: int = 60_000  # the whole workflow's: every tier and reask is paid from it
    compact: bool = False  # a small context: the enforced schema bounds every array and string
    temperature: float | None = 0.0  # a shape, not prose: the same input gives the same object
    # How the shape reaches the model: every target of the role enforces the JSON schema itself
    # ("schema"), or JSON only ("json", the schema in the prompt), or nothing ("prompt").
    enforced: Literal["schema", "json", "prompt"] = "prompt"


EXAMPLES = 3  # solved examples an examples tier reads
SMALL_CONTEXT = 4096  # tokens of context at most for the compact schema


def fitted(request: StructuredRequest, route: RouteSpec) -> StructuredRequest:
    """The request as its role can take it: the shape through the weakest target's mechanism
    (every target enforces the JSON schema, or JSON only, or nothing); on a small context (the
    embedded default's 2,048 tokens) the schema with bounded arrays and strings — unbounded, a
    small model keeps adding elements until the object is cut off."""
    capabilities = [target.provider.capabilities for target in route.targets]
    enforced: Literal["schema", "json", "prompt"] = (
        "schema"
        if all(c.json_schema for c in capabilities)
        else "json"
        if all(c.json_mode for c in capabilities)
        else "prompt"
    )
    limit = route.limits.context_length
    return replace(request, compact=limit is not None and limit <= SMALL_CONTEXT, enforced=enforced)


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


@dataclass
class _Result:
    outcome: Outcome[Any]
    usage: Usage
    answers: int = 0  # the current tier's model answers (reasks included)


class StructuredWorkflow:
    def __init__(
        self,
        pipeline: FrameSource,
        *,
        has_role: Callable[[str], bool],
        report: Callable[[str, Payload], None],
        examples: ExampleSource | None = None,
        tiers: Mapping[str, Sequence[TierSpec]] = TIERS,
    ) -> None:
        self._pipeline = pipeline
        self._has_role = has_role
        self._report = report  # (trace id, event): the audit trail's emit
        self._examples = examples
        self._tiers = tiers

    async def run(self, asked: StructuredRequest, ctx: RequestContext) -> AsyncGenerator[Frame, None]:
        """The schema's tiers in order until one gives Ok; one budget token pays for them all."""
        schema = asked.schema
        budget = BudgetToken.mint(f"generate:{schema.name}", asked.budget_tokens)
        attempts: list[TierAttempt] = []
        sent: dict[tuple[str, int], Any] = {}
        result = _Result(Invalid(("no tier could run",), 0), Usage())
        for tier in self._tiers.get(schema.name, (LLM_PLAIN,)):
            role = tier.role or asked.role
            result.answers = 0
            if tier.kind == "recipe":
                assert tier.recipe is not None
                result.outcome = _validated(schema, tier.recipe(asked.text))
            elif not self._has_role(role) or (tier.kind == "llm_with_examples" and self._examples is None):
                continue  # a tier whose role or example store is not configured is not a tier here
            else:
                shown = await self._solved_examples(tier, asked, attempts)
                async for frame in self._llm(
                    replace(asked, role=role), ctx, attempts, budget, sent, result, shown
                ):
                    yield frame
            kind, detail = outcome_label(result.outcome)
            self._report(
                ctx.trace_id,
                TierOutcome(
                    workflow=schema.name, tier=tier.name, outcome=kind, detail=detail, answers=result.answers
                ),
            )
            attempts.append(TierAttempt(tier.name, result.outcome))
            if isinstance(result.outcome, Ok | Refused | BudgetExhausted):
                break
        yield self._final(asked, ctx, result, attempts)

    async def _llm(
        self,
        asked: StructuredRequest,
        ctx: RequestContext,
        prior: list[TierAttempt],
        budget: BudgetToken,
        sent: dict[tuple[str, int], Any],
        result: _Result,
        examples: str = "",
    ) -> AsyncGenerator[Frame, None]:
        """One model tier: the answer streamed, elements sent as they validate, asked again with
        its errors up to `attempts` times. A retry tier reads what failed before, fenced."""
        schema = asked.schema
        user = asked.text
        if examples:
            user = f"{user}\n\nSolved examples of {schema.name}:\n{examples}"
        if prior:
            user = f"{user}\n\n{prior_failure_summary(prior, FenceWrapper())}"
        first_turn = (
            Message("system", system_prompt(schema, with_schema=asked.enforced != "schema")),
            Message("user", user),
        )
        messages: tuple[Message, ...] = first_turn
        for attempt in range(1, asked.attempts + 1):
            worst = estimate_message_tokens(messages) + asked.max_tokens
            if worst > budget.remaining:
                result.outcome = BudgetExhausted(worst, budget.remaining)
                return
            request = CompletionRequest(
                asked.role,
                messages,
                max_tokens=asked.max_tokens,
                temperature=asked.temperature,
                json_mode=asked.enforced != "prompt",
                # Not `strict`: OpenAI's strict mode wants every field required (the check here is).
                response_schema=(
                    ResponseSchema(schema.name, self._shape(asked)) if asked.enforced == "schema" else None
                ),
            )
            door = f"/v1/generate/{schema.name}"
            text: list[str] = []
            elements = ElementStream()
            async for frame in self._pipeline.run(
                PipelineRequest(request, endpoint=door, caller=asked.caller), ctx
            ):
                if isinstance(frame, TokenFrame):
                    text.append(frame.text)
                    for out in self._elements(schema, elements.feed(frame.text), sent):
                        yield out
                elif isinstance(frame, CompleteFrame):
                    result.usage = result.usage + frame.usage
                    budget.debit(frame.usage.total_tokens)
                elif not isinstance(frame, AcceptedFrame) or not (prior or attempt > 1):
                    yield frame  # the door learns of acceptance once
            answer = "".join(text)
            result.answers += 1
            declined = refusal(answer)
            if declined is not None:
                result.outcome = Refused(declined)
                return
            parsed = parse(answer, schema.adapter)
            if parsed.errors == ():
                result.outcome = Ok(parsed.value)
                return
            result.outcome = Invalid(parsed.errors, attempt)
            told = REASK.format(errors="\n".join(f"- {e}" for e in parsed.errors))
            # Only the last answer goes back with its errors: a small context holds no history.
            messages = (*first_turn, Message("assistant", answer), Message("user", told))

    async def _solved_examples(
        self, tier: TierSpec, asked: StructuredRequest, prior: list[TierAttempt]
    ) -> str:
        """The examples tier's first try reads solved examples, fenced (their text is untrusted);
        after a model tier failed, retrieval is skipped (ADR-0011): a recipe that did not apply
        is no failed answer."""
        failed_answers = [a for a in prior if a.tier != "recipe"]
        if tier.kind != "llm_with_examples" or self._examples is None or failed_answers:
            return ""
        found = await self._examples.examples(asked.schema.name, asked.text, limit=EXAMPLES)
        if not found:
            return ""
        return FenceWrapper().wrap("\n\n".join(found), source="solved_examples", budget_chars=3000)

    @staticmethod
    def _shape(asked: StructuredRequest) -> dict[str, Any]:
        return asked.schema.compact_json_schema() if asked.compact else asked.schema.json_schema()

    @staticmethod
    def _final(
        asked: StructuredRequest, ctx: RequestContext, result: _Result, tiers: list[TierAttempt]
    ) -> Frame:
        schema = asked.schema
        route = f"generate/{tiers[-1].tier if tiers else '-'}"
        match result.outcome:
            case Ok(value=value):
                dumped = schema.adapter.dump_python(schema.adapter.validate_python(value), mode="json")
                return CompleteFrame(trace_id=ctx.trace_id, route=route, usage=result.usage, object=dumped)
            case Invalid(errors=errors, attempts=attempts):
                detail = "; ".join(errors[:3])
                tried = ", ".join(t.tier for t in tiers)
                message = f"No valid {schema.name} from {tried} ({attempts} attempts in the last): {detail}"
                return ErrorFrame(type="schema_violation", message=message, retryable=True)
            case Refused(reason=reason):
                return ErrorFrame(type="refused", message=reason, retryable=False)
            case BudgetExhausted(needed=needed, remaining=remaining):
                told = f"The workflow's budget cannot pay the next call: {needed} tokens, {remaining} left."
                return ErrorFrame(type="budget_exhausted", message=told, retryable=False)
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
            value, reason = None, element.error
            if reason is None:
                try:
                    value = adapter.dump_python(adapter.validate_python(element.value), mode="json")
                except ValidationError as exc:
                    reason = "; ".join(concise(exc, limit=2))
            if reason is not None:
                where = f"{element.field}[{element.index}]"
                frames.append(GuardrailFrame("structured", f"invalid {where}: {reason}", "flag", (0, 0)))
                continue
            if sent.get(key) == value:
                continue
            sent[key] = value
            frames.append(ElementFrame({"field": element.field, "index": element.index, "value": value}))
        return frames


def _validated(schema: OutputSchema, outcome: Outcome[Any]) -> Outcome[Any]:
    """A recipe's value through the same strict validation as a model's."""
    if not isinstance(outcome, Ok):
        return outcome
    try:
        return Ok(schema.adapter.validate_python(outcome.value))
    except ValidationError as exc:
        return Invalid(tuple(concise(exc)), 1)
