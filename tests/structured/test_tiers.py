"""The named fallback tiers of a workflow (seed 003): a recipe answers with no model; a failing
tier hands over to the next, which reads a fenced summary of what failed; one budget token pays
for every tier, and a workflow it cannot pay ends BudgetExhausted; every tier's outcome is an
audit event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sluicegate.audit.events import Payload, TierOutcome
from sluicegate.config.schema import Config
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.request import Caller
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.structured.outcome import Invalid, Ok
from sluicegate.structured.schemas import schema_named
from sluicegate.structured.tiers import LLM_PLAIN, LLM_WITH_EXAMPLES, TIERS, TierSpec, upgrade_recipe
from sluicegate.structured.workflow import StructuredRequest, StructuredWorkflow
from sluicegate.types import CompleteFrame, ErrorFrame, Frame

PATCH = {
    "action": "patch_code",
    "file": "app/http.py",
    "change": "escape CRLF in headers",
    "rationale": "no release",
}
SCRIPT: dict[str, Any] = {
    "models": {
        "weak": [
            {"match": "weapon", "text": "I'm sorry, but I can't help with that."},
            {"match": "escape CRLF like this", "text": json.dumps(PATCH)},  # read from a solved example
            {"text": "I think you should upgrade something."},
        ],
        "strong": [{"match": "UNTRUSTED", "text": json.dumps(PATCH)}, {"text": "no idea"}],
    }
}


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    config = Config.model_validate(
        {
            "providers": {"s": {"type": "scripted", "inline": SCRIPT}},
            "models": {"weak": {"use": ["s/weak"]}, "reasoning": {"use": ["s/strong"]}},
            "state": {"backend": "memory"},
        }
    )
    built = build_runtime(config)
    yield built
    await built.aclose()


class SolvedExamples:
    """An example store (the ExampleSource port) over a list, counting what it is asked."""

    def __init__(self, examples: list[str]) -> None:
        self._examples = examples
        self.asked: list[tuple[str, str]] = []

    async def examples(self, schema: str, text: str, limit: int) -> list[str]:
        self.asked.append((schema, text))
        return self._examples[:limit]


async def run(
    runtime: Runtime,
    text: str,
    *,
    examples: SolvedExamples | None = None,
    tiers: dict[str, tuple[TierSpec, ...]] = TIERS,
    **options: Any,
) -> tuple[list[Frame], list[Payload]]:
    events: list[Payload] = []
    workflow = StructuredWorkflow(
        runtime.pipeline,
        has_role=runtime.stacks.has_role,
        report=lambda _trace, event: events.append(event),
        examples=examples,
        tiers=tiers,
    )
    asked = StructuredRequest(schema_named("remediation_plan"), text, "weak", Caller(local=True), **options)
    ctx = RequestContext()
    token = bind(ctx)
    try:
        frames = [frame async for frame in workflow.run(asked, ctx)]
    finally:
        unbind(token)
    return frames, events


def test_the_recipe_reads_an_advisory_and_declines_what_it_cannot() -> None:
    plan = upgrade_recipe("CVE-2024-1234: requests 2.30.0 allows header injection, fixed in 2.32.0.")
    assert plan == Ok(
        {
            "action": "upgrade_dependency",
            "package": "requests",
            "from_version": "2.30.0",
            "to_version": "2.32.0",
            "rationale": "The advisory says the issue is fixed in 2.32.0.",
        }
    )
    assert isinstance(upgrade_recipe("a header injection, no fix yet"), Invalid)


async def test_a_recipe_answers_with_no_model(runtime: Runtime) -> None:
    frames, events = await run(runtime, "requests 2.30.0 is vulnerable; fixed in 2.32.0")
    complete = frames[-1]
    assert isinstance(complete, CompleteFrame)
    assert complete.object is not None
    assert complete.object["to_version"] == "2.32.0"
    assert complete.usage.total_tokens == 0
    assert events == [TierOutcome(workflow="remediation_plan", tier="recipe", outcome="ok")]


async def test_a_failing_tier_hands_over_with_a_fenced_summary_of_what_failed(runtime: Runtime) -> None:
    frames, events = await run(runtime, "A header injection in our HTTP client; no release fixes it.")
    complete = frames[-1]
    assert isinstance(complete, CompleteFrame), complete
    assert complete.object == PATCH
    assert [(e.tier, e.outcome) for e in events if isinstance(e, TierOutcome)] == [
        ("recipe", "invalid"),
        ("llm_plain", "invalid"),
        ("llm_strong_role", "ok"),
    ]


async def test_a_workflow_its_budget_cannot_pay_ends_budget_exhausted(runtime: Runtime) -> None:
    frames, events = await run(runtime, "A header injection; no fix.", budget_tokens=100, max_tokens=200)
    error = frames[-1]
    assert isinstance(error, ErrorFrame)
    assert error.type == "budget_exhausted"
    assert [(e.tier, e.outcome) for e in events if isinstance(e, TierOutcome)][-1] == (
        "llm_plain",
        "budget_exhausted",
    )


async def test_a_refusal_is_an_answer_not_a_reason_to_ask_again(runtime: Runtime) -> None:
    frames, events = await run(runtime, "Write a plan to weaponise this exploit.")
    error = frames[-1]
    assert isinstance(error, ErrorFrame)
    assert error.type == "refused"
    assert "can't help" in error.message
    assert [(e.tier, e.outcome) for e in events if isinstance(e, TierOutcome)] == [
        ("recipe", "invalid"),
        ("llm_plain", "refused"),
    ]
    assert runtime.providers["s"].player.calls["weak"] == 1  # type: ignore[attr-defined]


async def test_the_examples_tier_reads_solved_examples_fenced(runtime: Runtime) -> None:
    store = SolvedExamples(['A CRLF header bug: escape CRLF like this -> {"action": "patch_code", ...}'])
    frames, events = await run(
        runtime, "A header injection in our HTTP client; no release fixes it.", examples=store
    )
    complete = frames[-1]
    assert isinstance(complete, CompleteFrame), complete
    assert complete.object == PATCH
    assert store.asked == [
        ("remediation_plan", "A header injection in our HTTP client; no release fixes it.")
    ]
    assert [(e.tier, e.outcome) for e in events if isinstance(e, TierOutcome)] == [
        ("recipe", "invalid"),
        ("llm_with_examples", "ok"),
    ]


async def test_after_a_failed_answer_the_examples_tier_does_not_retrieve(runtime: Runtime) -> None:
    store = SolvedExamples(["escape CRLF like this"])
    retry_order = {"remediation_plan": (LLM_PLAIN, LLM_WITH_EXAMPLES)}
    frames, events = await run(runtime, "A header injection; no fix.", examples=store, tiers=retry_order)
    assert isinstance(frames[-1], ErrorFrame)
    assert store.asked == []  # ADR-0011: the retry carries the failure summary, not the examples
    assert [(e.tier, e.outcome) for e in events if isinstance(e, TierOutcome)] == [
        ("llm_plain", "invalid"),
        ("llm_with_examples", "invalid"),
    ]


async def test_without_an_example_store_the_examples_tier_is_not_a_tier(runtime: Runtime) -> None:
    _, events = await run(runtime, "A header injection; no fix.")
    assert "llm_with_examples" not in [e.tier for e in events if isinstance(e, TierOutcome)]
