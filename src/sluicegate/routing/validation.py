"""Stage 3, VALIDATION (seed 001 §2.6, §7.2): an answer checked before it ships.

Deterministic checks first, against what the answer was given (tool results, reference text,
the question): every number must be there or follow from two of them by one operation; every
product or order id must be there; every name (a capitalised word inside a sentence) must be
there; and a domain pack's fact checks (the shop's prices against its catalog). Then, if none
failed and a `validation` role is configured, that role with a strict `VALID | INVALID + reasons`
contract. An answer with nothing to check against gets only the role.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from sluicegate.budgets import BudgetToken
from sluicegate.calltrace import CallTrace
from sluicegate.errors import SluicegateError
from sluicegate.routing.router import RoleModels, ask_in_json
from sluicegate.types import ResponseSchema

Verdict = Literal["valid", "invalid"]
_NUMBER = re.compile(
    r"(?<![\w.])[-\u2212]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|(?<![\w.])[-\u2212]?\d+(?:[.,]\d+)?(?![\d])"
)
_IDS = re.compile(r"\b(?:B0[A-Z0-9]{8}|ORD-\d{5,})\b")
_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
VALIDATOR_PROMPT = (
    "You check an answer against the question and the reference. Reply with JSON "
    '{"verdict": "VALID" or "INVALID", "reasons": [short reasons]}. INVALID when the answer states '
    "something the reference contradicts or does not support."
)
VERDICT_SCHEMA = ResponseSchema(
    "verdict",
    {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["VALID", "INVALID"]},
            "reasons": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "required": ["verdict", "reasons"],
        "additionalProperties": False,
    },
    strict=True,
)

# A domain pack's fact check: the reasons its facts contradict the answer.
FactCheck = Callable[[str], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class Validation:
    """The pipeline's `Verdict`, with the verdict as the API words it."""

    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.verdict == "valid"


def _value(token: str) -> float | None:
    cleaned = token.replace("\u2212", "-")  # a typographic minus
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", cleaned):
        cleaned = cleaned.replace(",", "")
    else:
        cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def numbers_of(text: str) -> list[float]:
    return [v for v in (_value(t) for t in _NUMBER.findall(text)) if v is not None]


def _reachable(given: list[float]) -> set[float]:
    """The numbers given, and what one operation on two of them makes (a total, a difference)."""
    unique = sorted(set(given))[:60]  # bounded: pairs of at most 60 numbers
    found = {round(v, 2) for v in unique}
    for a, b in itertools.permutations(unique, 2):
        found |= {round(a + b, 2), round(a - b, 2), round(a * b, 2)}
        if b:
            found.add(round(a / b, 2))
    return found


_CALCULATED = re.compile(
    r"\b(?:total|sum|altogether|in all|each|per|difference|more than|less than|left|remaining|combined|"
    r"times|plus|minus|multipl\w*|divid\w*|average|tax|discount|off|save|saving|cheaper|dearer)\b|%",
    re.IGNORECASE,
)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_ACRONYM = re.compile(r"\b[A-Z]{2,}[A-Z0-9]*\b")


def check_numbers(answer: str, given: str) -> list[str]:
    """Numbers must be in the reference, or — where the answer says it calculated (a total, a
    difference, a discount) — follow from two of them by one operation. Dates must be there whole."""
    literal = numbers_of(given)
    known = _reachable(literal) if _CALCULATED.search(answer) else {round(v, 2) for v in literal}
    dates = [
        f"the date {d} is not in the reference"
        for d in dict.fromkeys(_DATE.findall(answer))
        if d not in given
    ]
    answer = _DATE.sub(" ", answer)
    # Small counting words ("2 volumes", "step 1") are not facts worth failing an answer for.
    return dates + [
        f"the number {v:g} is not in the reference"
        for v in numbers_of(answer)
        if round(v, 2) not in known and not (float(v).is_integer() and 0 <= v <= 10)
    ]


def check_ids(answer: str, given: str) -> list[str]:
    known = set(_IDS.findall(given))
    return [
        f"the id {i} is not in the reference" for i in dict.fromkeys(_IDS.findall(answer)) if i not in known
    ]


def check_names(answer: str, given: str) -> list[str]:
    """Names inside a sentence (capitalised words, acronyms like a carrier's) must be there."""
    haystack = given.casefold()
    names = dict.fromkeys(_NAME.findall(answer) + _ACRONYM.findall(answer))
    return [f"the name '{name}' is not in the reference" for name in names if name.casefold() not in haystack]


def parse_verdict(text: str) -> tuple[Verdict, list[str]]:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("verdict") not in ("VALID", "INVALID"):
        raise ValueError(f"not a verdict: {text[:80]!r}")
    reasons = data.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError("reasons is not a list of strings")
    return ("valid" if data["verdict"] == "VALID" else "invalid"), reasons


class AnswerValidator:
    def __init__(
        self,
        models: RoleModels,
        *,
        facts: FactCheck | None = None,
        role: str = "validation",
        budget_tokens: int = 4000,
    ) -> None:
        self._models = models
        self._budget_tokens = budget_tokens
        self._facts = facts
        self._role = role

    async def validate(self, question: str, answer: str, context: str, call: CallTrace) -> Validation:
        checks: list[str] = []
        reasons: list[str] = []
        if context.strip():
            given = f"{question}\n{context}"
            checks += ["numbers", "ids", "names"]
            reasons += check_numbers(answer, given) + check_ids(answer, given) + check_names(answer, given)
        if self._facts is not None:
            checks.append("facts")
            reasons += await self._facts(answer)
        if reasons:
            return Validation("invalid", reasons, checks)
        if self._models.has_role(self._role):
            verdict = await self._ask(question, answer, context, call)
            if verdict is not None:
                return Validation(verdict[0], verdict[1], [*checks, f"role:{self._role}"])
            checks.append(f"role:{self._role} (no verdict)")
        return Validation("valid", [], checks)

    async def _ask(
        self, question: str, answer: str, context: str, call: CallTrace
    ) -> tuple[Verdict, list[str]] | None:
        shown = f"Question: {question}\nReference: {context or '(none)'}\nAnswer: {answer}"
        budget = BudgetToken.mint("validation", self._budget_tokens)
        try:
            said = await ask_in_json(
                self._models,
                self._role,
                (VALIDATOR_PROMPT, shown),
                VERDICT_SCHEMA,
                max_tokens=96,
                call=call,
                budget=budget,
            )
            return parse_verdict(said)
        except (SluicegateError, ValueError):
            # A validator that cannot give a verdict does not fail the answer; the check says so.
            return None
