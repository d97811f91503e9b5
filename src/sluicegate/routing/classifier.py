"""Stage 1's deterministic classifier: a linear model over character n-grams, words, rule signals
and the entities a domain pack found, trained offline (benchmarks/train_router.py) on the
labelled set and shipped as weights. Microseconds, no model call; its confidence decides
whether the `router` role is asked instead."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from sluicegate.config.routing import RouteClassName
from sluicegate.routing.entities import EntityMatcher, NoEntities
from sluicegate.routing.signals import signals
from sluicegate.routing.text import char_ngrams, fold, words

RouteClass = RouteClassName  # one list of classes: the configuration's (routing.skip_validation_for)
ROUTE_CLASSES: tuple[RouteClass, ...] = get_args(RouteClass)
BUNDLED_WEIGHTS = Path(__file__).with_name("router_weights.json")
# What the classifier reads of a message: its start says what is asked (a pasted file or a long
# problem statement adds n-grams, time and little signal), and the time stays under a millisecond.
READ_CHARS = 300


@dataclass(frozen=True, slots=True)
class Classification:
    label: RouteClass
    confidence: float
    scores: dict[str, float]


def vector(text: str, previous: str | None, matcher: EntityMatcher) -> dict[str, float]:
    """What the model reads, as feature values: this message's n-grams and words, each once and
    scaled by how many there are (a long message is not more certain for having more n-grams);
    its rule signals and entities at full weight; of the previous turn only its signals and
    entities (a follow-up like "and volume 3?" leans on them). Training uses the same."""
    text = text[:READ_CHARS]
    previous = previous[:READ_CHARS] if previous else previous
    folded = fold(text)
    grams = set(char_ngrams(folded)) | {f"w:{w}" for w in words(folded)}
    scale = 1.0 / math.sqrt(len(grams)) if grams else 0.0
    values = dict.fromkeys(grams, scale)
    values.update(dict.fromkeys(signals(text) + matcher.match(text).features(), 1.0))
    if previous:
        earlier = signals(previous) + matcher.match(previous).features()
        values.update(dict.fromkeys((f"prev:{name}" for name in earlier), 1.0))
    return values


@dataclass(frozen=True, slots=True)
class Weights:
    labels: tuple[RouteClass, ...]
    bias: tuple[float, ...]
    table: dict[str, tuple[float, ...]]

    @classmethod
    def load(cls, path: Path = BUNDLED_WEIGHTS) -> Weights:
        raw = json.loads(path.read_text(encoding="utf-8"))
        labels = tuple(raw["labels"])
        if set(labels) != set(ROUTE_CLASSES):
            raise ValueError(f"{path}: labels {labels} are not the route classes {ROUTE_CLASSES}")
        return cls(labels, tuple(raw["bias"]), {k: tuple(v) for k, v in raw["weights"].items()})


class RouteClassifier:
    def __init__(self, weights: Weights, matcher: EntityMatcher | None = None) -> None:
        self._weights = weights
        self.matcher: EntityMatcher = matcher or NoEntities()

    def classify(self, text: str, previous: str | None = None) -> Classification:
        # Four classes: the sums unrolled (the loop over a feature's four weights cost a third).
        a, b, c, d = self._weights.bias
        table = self._weights.table
        for name, value in vector(text, previous, self.matcher).items():
            row = table.get(name)
            if row is not None:
                a += row[0] * value
                b += row[1] * value
                c += row[2] * value
                d += row[3] * value
        logits = [a, b, c, d]
        top = max(logits)
        exp = [math.exp(v - top) for v in logits]
        total = sum(exp)
        scores = {label: e / total for label, e in zip(self._weights.labels, exp, strict=True)}
        label = max(scores, key=scores.__getitem__)
        return Classification(label, scores[label], scores)  # type: ignore[arg-type]
