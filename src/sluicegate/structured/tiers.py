"""Named fallback tiers (seed 003 ADR-0002): a workflow is an ordered list of tiers declared as
data — a deterministic `recipe` (no tokens), then model tiers — run in order until one gives
`Ok`. Each tier's outcome is an audit event. Tiers after a failed one are retries: they see a
fenced summary of what failed before (ADR-0011), and a tier that would retrieve examples is
skipped without an example store (the solved-example store is not built yet: the tier and its
port wait for it), and does not retrieve on a retry."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sluicegate.guardrails.fence import FenceWrapper
from sluicegate.structured.outcome import BudgetExhausted, Invalid, Ok, Outcome, Refused

Recipe = Callable[[str], Outcome[Any]]


@dataclass(frozen=True, slots=True)
class TierSpec:
    name: str
    # "llm_with_examples": a model tier whose first try reads solved examples (the ExampleSource
    # port); a retry does not retrieve (ADR-0011: the same wrong example gives the same wrong answer).
    kind: Literal["recipe", "llm", "llm_with_examples"]
    recipe: Recipe | None = None
    role: str | None = None  # an llm tier's role; None: the request's


@dataclass(frozen=True, slots=True)
class TierAttempt:
    tier: str
    outcome: Outcome[Any]


def outcome_label(outcome: Outcome[Any]) -> tuple[str, str]:
    """An outcome as the audit trail words it: (kind, detail)."""
    match outcome:
        case Ok():
            return "ok", ""
        case Refused(reason=reason):
            return "refused", reason
        case Invalid(errors=errors, attempts=attempts):
            return "invalid", f"{attempts} attempts: {'; '.join(errors[:3])}"
        case BudgetExhausted(needed=needed, remaining=remaining):
            return "budget_exhausted", f"needs {needed}, {remaining} left"
    raise AssertionError(outcome)  # pragma: no cover - the union is closed


def prior_failure_summary(attempts: Sequence[TierAttempt], fence: FenceWrapper) -> str:
    """What failed before, fenced: the model's own earlier output is untrusted text too."""
    lines = [f"- {a.tier}: {': '.join(outcome_label(a.outcome))}" for a in attempts]
    summary = "Earlier attempts failed:\n" + "\n".join(lines)
    return fence.wrap(summary, source="prior_failure_summary", budget_chars=1500)


# -- recipes: deterministic tiers ----------------------------------------------------------------

_FIXED_IN = re.compile(
    r"\b(?P<package>[A-Za-z][\w.-]*)\s+(?:version\s+)?v?(?P<old>\d+(?:\.\d+)+)\b.*?"
    r"\b(?:fixed|patched|resolved)\s+in\s+(?:version\s+)?v?(?P<new>\d+(?:\.\d+)+)",
    re.IGNORECASE | re.DOTALL,
)


def upgrade_recipe(text: str) -> Outcome[Any]:
    """An advisory that names the package, its version and the fixed version needs no model:
    the plan is the upgrade. Anything else is for the model tiers."""
    found = _FIXED_IN.search(text)
    if found is None:
        return Invalid(("the advisory names no package version and fixed version",), 1)
    value = {
        "action": "upgrade_dependency",
        "package": found["package"],
        "from_version": found["old"],
        "to_version": found["new"],
        "rationale": f"The advisory says the issue is fixed in {found['new']}.",
    }
    return Ok(value)


class ExampleSource(Protocol):
    """Solved examples for a schema and an input (the solved-example store, when one is
    configured): each a short text, untrusted, fenced before it reaches a prompt."""

    async def examples(self, schema: str, text: str, limit: int) -> list[str]: ...


LLM_PLAIN = TierSpec("llm_plain", "llm")
LLM_WITH_EXAMPLES = TierSpec("llm_with_examples", "llm_with_examples")
LLM_STRONG = TierSpec("llm_strong_role", "llm", role="reasoning")
TIERS: dict[str, tuple[TierSpec, ...]] = {
    "architecture_artifact": (LLM_WITH_EXAMPLES, LLM_PLAIN, LLM_STRONG),
    "remediation_plan": (
        TierSpec("recipe", "recipe", recipe=upgrade_recipe),
        LLM_WITH_EXAMPLES,
        LLM_PLAIN,
        LLM_STRONG,
    ),
}
