"""Stage 1 and 2 of seed 001's routing (§2.6): where a `model: auto` request goes.

    the deterministic classifier (µs) ─ confident ─┐
        └─ below routing.confidence_threshold: the `router` role, constrained to one class
    simple_tool_call and a tool can answer alone ─▶ TOOL_ONLY_EXECUTION (no model)
    otherwise ─▶ MODEL_SELECTION: the role for the class, depth, code and context size

It reads the current message and the previous user turn, never the whole history. Decisions are
cached by a hash of the normalised pair, for `routing.cache_ttl_s`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sluicegate.budgets import BudgetToken
from sluicegate.calltrace import CallTrace
from sluicegate.config.routing import RoutingConfig
from sluicegate.errors import SluicegateError
from sluicegate.pipeline.stages import RouteDecision
from sluicegate.routing.classifier import Classification, RouteClass, RouteClassifier
from sluicegate.routing.entities import EntityMatcher
from sluicegate.routing.selection import select_role
from sluicegate.routing.text import fold
from sluicegate.routing.tools import ToolRegistry, ToolResult
from sluicegate.types import Completion, CompletionRequest, Message, ResponseSchema

# Short labels in a one-key object: each token the router writes costs a step of the model
# (the embedded one writes ~45 a second on two cores), so the answer is as short as JSON allows.
ROUTER_LABELS: dict[str, RouteClass] = {
    "shop": "simple_tool_call",
    "math": "reasoning_required",
    "code": "coding_required",
    "chat": "router_can_handle",
}
ROUTER_PROMPT = (
    "Label the message: shop (a price, stock, product or order look-up), math (maths, science, "
    'calculations), code (programming), chat (anything else). Answer JSON {"c": LABEL}.'
)
DECISION_SCHEMA = ResponseSchema(
    "route",
    {
        "type": "object",
        "properties": {"c": {"type": "string", "enum": list(ROUTER_LABELS)}},
        "required": ["c"],
        "additionalProperties": False,
    },
    strict=True,
)


class RoleModels(Protocol):
    def has_role(self, role: str) -> bool: ...

    async def complete(
        self, role: str, request: CompletionRequest, call: CallTrace, budget: BudgetToken
    ) -> Completion: ...


async def ask_in_json(
    models: RoleModels,
    role: str,
    prompts: tuple[str, str],
    schema: ResponseSchema,
    *,
    max_tokens: int,
    call: CallTrace,
    budget: BudgetToken,
) -> str:
    """A role's answer to the pipeline's own question (system, user), held to `schema` (a JSON
    schema the provider enforces: a grammar on the embedded model) and deterministic."""
    request = CompletionRequest(
        model=role,
        messages=(Message("system", prompts[0]), Message("user", prompts[1])),
        max_tokens=max_tokens,
        temperature=0.0,
        json_mode=True,
        response_schema=schema,
    )
    return (await models.complete(role, request, call, budget)).text


class DomainTools(Protocol):
    """A domain pack's tools, as routing uses them."""

    @property
    def matcher(self) -> EntityMatcher: ...

    @property
    def registry(self) -> ToolRegistry: ...

    def plan(self, text: str, entities: Any) -> tuple[str, dict[str, Any]] | None: ...

    def reply(self, result: ToolResult, question: str) -> str: ...


@dataclass(frozen=True, slots=True)
class _Cached:
    decision: RouteDecision
    expires: float


def parse_router_answer(text: str) -> RouteClass:
    """The router model's answer, strictly: one JSON object, one known label."""
    data = json.loads(text)
    if not isinstance(data, dict) or set(data) != {"c"} or data["c"] not in ROUTER_LABELS:
        raise ValueError(f"not a routing decision: {text[:80]!r}")
    return ROUTER_LABELS[data["c"]]


class RoutingStage:
    def __init__(
        self,
        config: RoutingConfig,
        classifier: RouteClassifier,
        models: RoleModels,
        tools: DomainTools | None = None,
    ) -> None:
        self._config = config
        self._classifier = classifier
        self._models = models
        self.tools = tools
        self._cache: OrderedDict[str, _Cached] = OrderedDict()

    async def decide(self, request: CompletionRequest, call: CallTrace) -> RouteDecision:
        started = time.perf_counter()
        text, previous = _turns(request.messages)
        key = hashlib.sha256(f"{fold(previous or '')}\x00{fold(text)}".encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and cached.expires > time.monotonic():
            self._cache.move_to_end(key)
            return replace(cached.decision, stage="cache", elapsed_ms=_ms(started))
        decision = await self._decide(request, text, previous, call)
        decision = replace(decision, elapsed_ms=_ms(started))
        self._remember(key, decision)
        return decision

    async def _decide(
        self, request: CompletionRequest, text: str, previous: str | None, call: CallTrace
    ) -> RouteDecision:
        found = self._classifier.classify(text, previous)
        label, stage, note = found.label, "rules", ""
        if found.confidence < self._config.confidence_threshold and self._config.router_fallback:
            label, stage, note = await self._ask_router(text, previous, found, call)
        if label == "simple_tool_call" and self.tools is not None:
            entities = self.tools.matcher.match(text)
            if previous:
                entities = entities.merged(self.tools.matcher.match(previous))
            planned = self.tools.plan(text, entities)
            if planned is not None:
                tool, arguments = planned
                args = {k: v for k, v in arguments.items() if v is not None}
                return RouteDecision(
                    "tool", tool, f"{stage}{note}", label, found.confidence, stage, arguments=args
                )
            note += "; no tool can answer alone"
        role, why = select_role(
            label,
            request,
            configured=self._models.has_role,
            large_context=self._config.large_context_tokens,
        )
        return RouteDecision("role", role, f"{stage}{note}; {why}", label, found.confidence, stage)

    async def _ask_router(
        self, text: str, previous: str | None, found: Classification, call: CallTrace
    ) -> tuple[RouteClass, str, str]:
        """The router role decides, held to one class by a JSON schema and parsed strictly; an
        answer that is not one (or a router that fails) leaves the classifier's decision."""
        if not self._models.has_role("router"):
            return found.label, "rules", f" (confidence {found.confidence:.2f}; no router role)"
        asked = f"Previous message: {previous}\nMessage: {text}" if previous else text
        budget = BudgetToken.mint("routing", self._config.budget_tokens)
        try:
            answer = await ask_in_json(
                self._models,
                "router",
                (ROUTER_PROMPT, asked),
                DECISION_SCHEMA,
                max_tokens=24,
                call=call,
                budget=budget,
            )
            return parse_router_answer(answer), "router_model", ""
        except (SluicegateError, ValueError) as exc:
            return found.label, "rules", f" (router model: {type(exc).__name__})"

    def _remember(self, key: str, decision: RouteDecision) -> None:
        self._cache[key] = _Cached(decision, time.monotonic() + self._config.cache_ttl_s)
        self._cache.move_to_end(key)
        while len(self._cache) > self._config.cache_size:
            self._cache.popitem(last=False)


def _turns(messages: tuple[Message, ...]) -> tuple[str, str | None]:
    """The current user message and the user message before it."""
    said = [m.content for m in messages if m.role == "user"]
    if not said:
        return (messages[-1].content if messages else ""), None
    return said[-1], (said[-2] if len(said) >= 2 else None)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
