"""Routing measured (seed 001 §7.2): benchmarks/results/routing.json.

    python benchmarks/routing.py

- Accuracy per class and overall on the held-out `test` split of
  benchmarks/data/routing_queries.jsonl, with weights trained here on the `train` split only (the
  shipped weights have seen every query; their figure on the same set is reported apart and is
  not the claim).
- The share of the set answered without a model: classified simple_tool_call *and* planned to a
  tool that answers alone.
- Routing overhead p50/p99 of the deterministic path (classifier, entities, tool plan), and of the
  router-model path (the `router` role on the embedded model when the [local] extra is installed;
  otherwise reported as not measured).
- Validation catch rate and false-alarm rate of the deterministic checks on question-knowledge-
  answer triples built from the demo catalog and orders: each answer once true and once with one
  planted wrong fact (a price, a stock count, a volume, an order's date or carrier, an author).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from harness import percentile, write_results
from train_router import load, train

from sluicegate.calltrace import CallTrace
from sluicegate.config.routing import RoutingConfig
from sluicegate.demo.tools import bundled_listings, bundled_orders, shop_entities
from sluicegate.routing.classifier import ROUTE_CLASSES, RouteClassifier, Weights
from sluicegate.routing.validation import AnswerValidator


def weights_of(model: dict[str, Any]) -> Weights:
    return Weights(
        tuple(model["labels"]), tuple(model["bias"]), {k: tuple(v) for k, v in model["weights"].items()}
    )


def accuracy(classifier: RouteClassifier, rows: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    confusion: Counter[tuple[str, str]] = Counter()
    for row in rows:
        got = classifier.classify(row["text"]).label
        hit = int(got == row["label"])
        per[row["label"]][0] += hit
        per[row["label"]][1] += 1
        by_lang[row["lang"]][0] += hit
        by_lang[row["lang"]][1] += 1
        if not hit:
            confusion[(row["label"], got)] += 1
    total = sum(a for a, _ in per.values()), sum(b for _, b in per.values())
    return {
        "overall": round(total[0] / total[1], 4),
        "queries": total[1],
        "per_class": {label: round(a / b, 4) for label, (a, b) in sorted(per.items())},
        "per_language": {lang: round(a / b, 4) for lang, (a, b) in sorted(by_lang.items())},
        "confusions": {f"{a} -> {b}": n for (a, b), n in confusion.most_common()},
    }


def tool_only_share(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from sluicegate.demo.tools import ShopTools
    from sluicegate.factsources.catalog import SqliteCatalog

    matcher = shop_entities()
    classifier = RouteClassifier(Weights.load(), matcher)
    catalog = SqliteCatalog(Path("/tmp/sluicegate-bench-catalog.db"))
    tools = ShopTools(catalog, trust_threshold=0.7, entities=matcher)
    answered = 0
    timings: list[float] = []
    for row in rows:
        started = time.perf_counter()
        found = classifier.classify(row["text"])
        planned = (
            tools.plan(row["text"], matcher.match(row["text"])) if found.label == "simple_tool_call" else None
        )
        timings.append((time.perf_counter() - started) * 1000)
        answered += planned is not None
    return {
        "share_answered_without_llm": round(answered / len(rows), 4),
        "deterministic_overhead_ms": {
            "p50": round(percentile(timings, 50), 3),
            "p99": round(percentile(timings, 99), 3),
            "mean": round(statistics.fmean(timings), 3),
        },
    }


def triples(rng: random.Random) -> list[tuple[str, str, str, bool]]:
    """(question, knowledge, answer, fabricated): half of the answers carry one wrong fact."""
    made: list[tuple[str, str, str, bool]] = []
    for item in rng.sample(bundled_listings(), 60):
        knowledge = json.dumps({k: item[k] for k in ("id", "title", "author", "price", "currency", "stock")})
        question = f"Tell me about {item['title']}."
        price, stock = f"${item['price']:.2f}", item["stock"]
        true = f"{item['title']} by {item['author']} costs {price} and {stock} are in stock."
        wrong = rng.choice(
            [
                true.replace(f"${item['price']:.2f}", f"${item['price'] + rng.choice([1, 2, 5]):.2f}"),
                true.replace(f"{item['stock']} are", f"{item['stock'] + rng.randint(3, 40)} are"),
                true.replace(
                    item["author"], rng.choice(["Akira Toriyama", "Naoko Takeuchi", "Rumiko Takahashi"])
                ),
                true.replace(f"Vol. {item['volume']}", f"Vol. {item['volume'] + rng.randint(20, 40)}"),
            ]
        )
        made += [(question, knowledge, true, False), (question, knowledge, wrong, True)]
    for order in rng.sample([o for o in bundled_orders() if o["carrier"]], 20):
        knowledge = json.dumps(order)
        question = f"Where is my order {order['id']}?"
        true = f"Order {order['id']} was placed on {order['placed']} and ships with {order['carrier']}."
        other = rng.choice([c for c in ("UPS", "USPS", "DHL", "FedEx") if c != order["carrier"]])
        wrong = rng.choice(
            [true.replace(order["carrier"], other), true.replace(order["placed"], "2026-10-02")]
        )
        made += [(question, knowledge, true, False), (question, knowledge, wrong, True)]
    return made


class NoRoles:
    def has_role(self, role: str) -> bool:
        return False

    async def complete(self, *args: Any) -> Any:
        raise AssertionError("the deterministic checks ask no model")


async def validation_rates() -> dict[str, Any]:
    validator = AnswerValidator(NoRoles())
    caught = alarms = fabricated = true = 0
    for question, knowledge, answer, planted in triples(random.Random(7)):
        verdict = await validator.validate(question, answer, knowledge, CallTrace())
        if planted:
            fabricated += 1
            caught += not verdict.valid
        else:
            true += 1
            alarms += not verdict.valid
    return {
        "triples": fabricated + true,
        "catch_rate": round(caught / fabricated, 4),
        "false_alarm_rate": round(alarms / true, 4),
        "checks": "deterministic (numbers, ids, names); the validation role is not asked",
    }


async def router_model_path(rows: list[dict[str, Any]]) -> dict[str, Any] | str:
    """The `router` role on the embedded model deciding alone (threshold 1.0): its time per
    decision, and how often it agrees with the label (a 135M model: the classifier carries
    the decisions; this is the fallback's cost)."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return "not measured (needs the [local] extra)"
    from sluicegate.config.schema import embedded_default
    from sluicegate.runtime import build_runtime
    from sluicegate.types import CompletionRequest, Message

    default = embedded_default()
    config = default.model_copy(
        update={
            "state": default.state.model_copy(update={"backend": "memory"}),
            "audit": default.audit.model_copy(update={"enabled": False}),
            "routing": RoutingConfig(confidence_threshold=1.0),
        }
    )
    runtime = build_runtime(config)
    router = runtime.pipeline.stages.router
    assert router is not None
    timings: list[float] = []
    agreed = used = 0
    try:
        await router.decide(CompletionRequest("auto", (Message("user", "warm-up"),)), CallTrace())
        for row in rows:
            decided = await router.decide(
                CompletionRequest("auto", (Message("user", row["text"]),)), CallTrace()
            )
            timings.append(decided.elapsed_ms)
            used += decided.stage == "router_model"
            agreed += decided.decision == row["label"]
    finally:
        await runtime.aclose()
    return {
        "queries": len(rows),
        "decided_by_the_model": used,
        "p50_ms": round(percentile(timings, 50), 1),
        "p99_ms": round(percentile(timings, 99), 1),
        "agreement_with_labels": round(agreed / len(rows), 4),
        "model": "SmolLM2-135M (embedded), 2 CPU cores",
    }


def main() -> None:
    held_out = load("test")
    trained = weights_of(train(load("train")))
    matcher = shop_entities()
    results: dict[str, Any] = {
        "dataset": {
            "file": "benchmarks/data/routing_queries.jsonl",
            "queries": len(load(None)),
            "by_class": dict(Counter(r["label"] for r in load(None))),
            "by_source": dict(Counter(r["source"] for r in load(None))),
        },
        "classes": list(ROUTE_CLASSES),
        "held_out_accuracy": accuracy(RouteClassifier(trained, matcher), held_out),
        # How often the router model would be asked at the default threshold (the rest stay sub-ms).
        "held_out_share_below_threshold": round(
            sum(
                RouteClassifier(trained, matcher).classify(r["text"]).confidence
                < RoutingConfig().confidence_threshold
                for r in held_out
            )
            / len(held_out),
            4,
        ),
        "shipped_weights_on_whole_set": accuracy(RouteClassifier(Weights.load(), matcher), load(None))[
            "overall"
        ],
        **tool_only_share(load(None)),
        "router_model_path": asyncio.run(router_model_path(random.Random(3).sample(held_out, 40))),
        "validation": asyncio.run(validation_rates()),
        "default_confidence_threshold": RoutingConfig().confidence_threshold,
    }
    path = write_results("routing", results)
    print(json.dumps(results, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
