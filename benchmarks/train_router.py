"""Train the deterministic router's weights: src/sluicegate/routing/router_weights.json.

    python benchmarks/train_router.py [--all]

Multinomial logistic regression (numpy, full-batch gradient descent with L2) over the features
the classifier reads (`sluicegate.routing.classifier.vector`), on the `train` split of
benchmarks/data/routing_queries.jsonl; `--all` trains on every query (what ships once the
held-out accuracy has been measured: benchmarks/routing.py reports the held-out figure, from
weights trained without the test split). Features seen in fewer than two training queries are
dropped; weights are rounded to four decimals.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from sluicegate.demo.tools import shop_entities
from sluicegate.routing.classifier import BUNDLED_WEIGHTS, ROUTE_CLASSES, vector

DATA = Path(__file__).parent / "data" / "routing_queries.jsonl"


def load(split: str | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if split is None or r["split"] == split]


def train(
    rows: list[dict[str, Any]], *, l2: float = 1e-3, steps: int = 1500, rate: float = 2.0
) -> dict[str, Any]:
    matcher = shop_entities()
    vectors = [vector(r["text"], r.get("previous"), matcher) for r in rows]
    seen = Counter(name for v in vectors for name in v)
    names = sorted(name for name, count in seen.items() if count >= 2)
    column = {name: i for i, name in enumerate(names)}
    x = np.zeros((len(rows), len(names)))
    for i, v in enumerate(vectors):
        for name, value in v.items():
            if name in column:
                x[i, column[name]] = value
    y = np.array([ROUTE_CLASSES.index(r["label"]) for r in rows])
    onehot = np.eye(len(ROUTE_CLASSES))[y]
    # Classes weigh the same whatever their share of the set.
    balance = (len(rows) / (len(ROUTE_CLASSES) * onehot.sum(axis=0)))[y][:, None]
    w = np.zeros((len(names), len(ROUTE_CLASSES)))
    b = np.zeros(len(ROUTE_CLASSES))
    for _ in range(steps):
        logits = x @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) * balance / len(rows)
        w -= rate * (x.T @ grad + l2 * w)
        b -= rate * grad.sum(axis=0)
    keep = {
        name: [round(float(v), 4) for v in w[i]] for name, i in column.items() if np.abs(w[i]).max() >= 1e-3
    }
    return {
        "labels": list(ROUTE_CLASSES),
        "bias": [round(float(v), 4) for v in b],
        "weights": keep,
        "trained_on": {"queries": len(rows), "features": len(keep), "l2": l2, "steps": steps},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--all", action="store_true", help="train on every query, the test split too")
    parser.add_argument("--out", type=Path, default=BUNDLED_WEIGHTS)
    args = parser.parse_args()
    model = train(load(None if args.all else "train"))
    model["trained_on"]["split"] = "all" if args.all else "train"
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{model['trained_on']} → {args.out}")


if __name__ == "__main__":
    main()
