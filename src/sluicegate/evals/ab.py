"""Blind A/B of two roles or models (seed 001 §8.2): both answer every query, a judge compares
the two answers twice — in a random order, then swapped — without knowing which side wrote
which, and the two verdicts combine: the same side twice wins, a split or a tie is a tie. The
report gives wins, ties and losses with a Wilson 95 % interval on A's win rate among decisive
queries, and each side's tokens and latency."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol

from sluicegate.types import Message, ResponseSchema

JUDGE_PROMPT = (
    "You compare two answers to the same question. Judge only correctness, completeness and "
    'clarity. Reply with JSON {"better": "1"} if answer 1 is better, {"better": "2"} if answer 2 '
    'is better, {"better": "tie"} if neither is.'
)
JUDGE_SCHEMA = ResponseSchema(
    "judgment",
    {
        "type": "object",
        "properties": {"better": {"type": "string", "enum": ["1", "2", "tie"]}},
        "required": ["better"],
        "additionalProperties": False,
    },
    strict=True,
)
Side = Literal["a", "b", "tie"]


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    tokens: int
    latency_ms: float
    error: str | None = None


class Answerer(Protocol):
    async def answer(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        schema: ResponseSchema | None = None,
    ) -> Answer: ...


@dataclass
class QueryResult:
    query: str
    a: Answer
    b: Answer
    verdicts: list[str]  # the judge's two verdicts, as sides ("a", "b", "tie", "invalid")
    winner: Side


@dataclass
class ABReport:
    a: str
    b: str
    judge: str
    results: list[QueryResult] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        wins = sum(r.winner == "a" for r in self.results)
        losses = sum(r.winner == "b" for r in self.results)
        ties = len(self.results) - wins - losses
        low, high = wilson(wins, wins + losses)
        return {
            "a": self.a,
            "b": self.b,
            "judge": self.judge,
            "queries": len(self.results),
            "a_wins": wins,
            "ties": ties,
            "b_wins": losses,
            "a_win_rate_decisive": round(wins / (wins + losses), 4) if wins + losses else None,
            "a_win_rate_ci95": [round(low, 4), round(high, 4)],
            "invalid_judgments": sum(v == "invalid" for r in self.results for v in r.verdicts),
            "sides": {name: self._side(name) for name in ("a", "b")},
        }

    def _side(self, name: Literal["a", "b"]) -> dict[str, object]:
        answers = [getattr(r, name) for r in self.results]
        latencies = [x.latency_ms for x in answers if x.error is None]
        return {
            "tokens": sum(x.tokens for x in answers),
            "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
            "errors": sum(x.error is not None for x in answers),
        }

    def as_json(self) -> str:
        return json.dumps(
            {"summary": self.summary(), "results": [asdict(r) for r in self.results]},
            indent=2,
            ensure_ascii=False,
        )


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (sound at small counts, unlike p ± z·se)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


def parse_judgment(text: str) -> Literal["1", "2", "tie"]:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("better") not in ("1", "2", "tie"):
        raise ValueError(f"not a judgment: {text[:80]!r}")
    better: Literal["1", "2", "tie"] = data["better"]
    return better


def combine(first: str, second: str) -> Side:
    """Two verdicts, one per order: the same side twice wins; anything else is a tie."""
    if first == second and first in ("a", "b"):
        return first  # type: ignore[return-value]
    return "tie"


class BlindAB:
    def __init__(
        self, answerer: Answerer, *, judge: str, max_tokens: int = 512, rng: random.Random | None = None
    ) -> None:
        self._answerer = answerer
        self._judge = judge
        self._max_tokens = max_tokens
        self._rng = rng or random.Random()

    async def run(
        self, a: str, b: str, queries: Sequence[str], progress: Callable[[], None] | None = None
    ) -> ABReport:
        report = ABReport(a, b, self._judge)
        for query in queries:
            asked = (Message("user", query),)
            answer_a = await self._answerer.answer(a, asked, max_tokens=self._max_tokens)
            answer_b = await self._answerer.answer(b, asked, max_tokens=self._max_tokens)
            a_first = self._rng.random() < 0.5  # the first order is random, the second its swap
            verdicts = [
                await self._judge_once(query, answer_a, answer_b, a_first=a_first),
                await self._judge_once(query, answer_a, answer_b, a_first=not a_first),
            ]
            report.results.append(QueryResult(query, answer_a, answer_b, verdicts, combine(*verdicts)))
            if progress is not None:
                progress()
        return report

    async def _judge_once(self, query: str, a: Answer, b: Answer, *, a_first: bool) -> str:
        one, two = (a, b) if a_first else (b, a)
        shown = f"Question: {query}\n\nAnswer 1:\n{one.text}\n\nAnswer 2:\n{two.text}"
        judged = await self._answerer.answer(
            self._judge,
            (Message("system", JUDGE_PROMPT), Message("user", shown)),
            max_tokens=16,
            schema=JUDGE_SCHEMA,
        )
        try:
            better = parse_judgment(judged.text)
        except ValueError:
            return "invalid"
        if better == "tie":
            return "tie"
        return "a" if (better == "1") == a_first else "b"
