"""Inline guardrail cost and quality.

    python benchmarks/guardrails.py [--chunks 20000]

1. Per-chunk scan cost (median, p99) of the streaming scanner over realistic 1-8-token chunks
   of assistant text with occasional PII, and throughput in MB/s (target: median <= 20 us).
2. docs/pii.md's scheme from the seeded generator in sluicegate.testing.pii_samples: recall per
   type and written form, per evasion, and hard negatives kept unchanged per kind.
3. PII precision and recall on a labelled set: the sentence templates and fake-person data that
   ship in the PyPI package `presidio-evaluator` (its wheel is fetched once with
   `pip download --no-deps` into benchmarks/.cache; the package itself is not installed), filled
   with values from `faker` (the [bench] extra), plus hand-written hard cases.

Writes benchmarks/results/guardrails.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from harness import percentile, write_results

from sluicegate.config.schema import GuardrailsConfig
from sluicegate.guardrails.inline import StreamScanner, scan_text
from sluicegate.guardrails.rules import default_rules

RULES = default_rules(GuardrailsConfig().competitors)  # the default list, as users run it
ACTIONS = {"pii": "redact", "competitors": "redact", "profanity": "redact"}
CACHE = Path(__file__).parent / ".cache"
WHEEL = "presidio_evaluator-0.3.2-py3-none-any.whl"
RAW = "presidio_evaluator/data_generator/raw_data/"

PROSE_TEXT = """Volume 3 of the series continues the story where the second book left off, and readers
who enjoyed the art style will find the new chapters just as vivid. The price is listed on the product
page and the seller ships within two days. If you liked the first arc, this one adds new characters and
a faster pace."""
PROSE = PROSE_TEXT.split()


def chunked_stream(rng: random.Random, words: int) -> list[str]:
    """Assistant-like text, now and then carrying PII, cut into chunks of 1 to 8 tokens."""
    out: list[str] = []
    while len(out) < words:
        out.extend(rng.choice(PROSE) for _ in range(rng.randint(5, 25)))
        if rng.random() < 0.15:
            out.append(
                rng.choice(["4111 1111 1111 1111", "ann@example.com", "(415) 555-0132", "123-45-6789"])
            )
    chunks: list[str] = []
    index = 0
    while index < len(out):
        size = rng.randint(1, 8)
        chunks.append("".join(" " + w for w in out[index : index + size]))
        index += size
    return chunks


def per_chunk_cost(count: int) -> dict[str, float]:
    rng = random.Random(7)
    chunks = chunked_stream(rng, count * 5)[:count]
    timings: list[float] = []
    total_bytes = 0
    started_all = time.perf_counter()
    for start in range(0, len(chunks), 200):  # responses of 200 chunks each
        scanner = StreamScanner(RULES, ACTIONS)
        for chunk in chunks[start : start + 200]:
            t0 = time.perf_counter_ns()
            scanner.feed(chunk)
            timings.append((time.perf_counter_ns() - t0) / 1000)
            total_bytes += len(chunk.encode())
        scanner.finish()
    elapsed = time.perf_counter() - started_all
    return {
        "chunks": len(timings),
        "median_us": statistics.median(timings),
        "p99_us": percentile(timings, 99),
        "mean_us": statistics.fmean(timings),
        "throughput_mb_s": total_bytes / elapsed / 1e6,
        "target_median_us": 20.0,
    }


def presidio_data() -> tuple[list[str], list[str]]:
    wheel = CACHE / WHEEL
    if not wheel.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(CACHE),
                "presidio-evaluator==0.3.2",
            ],
            check=True,
        )
    with zipfile.ZipFile(wheel) as archive:
        templates = archive.read(RAW + "templates.txt").decode("utf-8").splitlines()
        people = archive.read(RAW + "FakeNameGenerator.com_3000.csv").decode("utf-8-sig").splitlines()
    # The templates write line breaks as a literal backslash-n.
    return [t.replace("\\n", "\n") for t in templates if t.strip()], people


TARGETS = {
    "credit_card_number": "pii.card",
    "phone_number": "pii.phone",
    "email": "pii.email",
    "ssn": "pii.ssn",
}


def fill(
    template: str, fake: Any, people: list[list[str]], rng: random.Random
) -> tuple[str, list[tuple[int, int, str]]]:
    """A sentence and the spans of the PII the scanners must find in it."""
    import re

    person = rng.choice(people)
    values = {
        "credit_card_number": lambda: card_format(fake.credit_card_number(), rng),
        "phone_number": lambda: (
            rng.choice([fake.phone_number(), fake.basic_phone_number()]).split("x")[0].strip()
        ),
        "email": lambda: rng.choice([fake.email(), person[14]]),
        "ssn": fake.ssn,
    }
    text, spans, cursor = "", [], 0
    for match in re.finditer(r"\{\{?([a-z_]+)\}?\}", template):
        text += template[cursor : match.start()]
        name = match.group(1)
        if name in values:
            value = values[name]()
            spans.append((len(text), len(text) + len(value), TARGETS[name]))
        else:
            generator = getattr(fake, name, None)
            value = str(generator()) if callable(generator) else fake.word()
        text += value
        cursor = match.end()
    return text + template[cursor:], spans


def card_format(number: str, rng: random.Random) -> str:
    style = rng.choice(["plain", "spaces", "dashes"])
    if style == "plain":
        return number
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return (" " if style == "spaces" else "-").join(groups)


HARD_CASES: list[tuple[str, list[str]]] = [
    ("Card: 4111-1111-1111-1111 please.", ["pii.card"]),
    (
        "card " + " ".join(["\uff14\uff11\uff11\uff11"] + ["\uff11\uff11\uff11\uff11"] * 3) + " ok",
        ["pii.card"],
    ),
    ("card 5500\u200b0000\u200b0000\u200b0004 ok", ["pii.card"]),
    ("write to ann.lee+orders@example.co.uk today", ["pii.email"]),
    ("call +1 (415) 555-0132 or +44 20 7183 8750", ["pii.phone", "pii.phone"]),
    ("call +442071838750", ["pii.phone"]),
    ("my SSN is 078 05 1120", ["pii.ssn"]),
    ("ISBN 978-1-4028-9462-6 is the paperback", []),
    ("Order #1234567890123 shipped", []),
    ("The price is $14.99, volume 12 of 30, published 2019-04-01.", []),
    ("It costs 4111 yen; ships in 1 to 2 days", []),
    ("Room 101, call extension 2210", []),
]


def pii_eval(samples: int) -> dict[str, Any]:
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(11)
    rng = random.Random(11)
    templates, rows = presidio_data()
    people = [row.split(",") for row in rows[1:]]
    labelled = [fill(rng.choice(templates), fake, people, rng) for _ in range(samples)]
    for text, kinds in HARD_CASES:
        scan = [(0, len(text), kind) for kind in kinds]
        labelled.append((text, scan))
    tp = fp = fn = 0
    misses: list[str] = []
    false_alarms: list[str] = []
    for text, spans in labelled:
        hits = scan_text(text, RULES, {"pii": "flag", "competitors": "off", "profanity": "off"}).hits
        used = set()
        for hit in hits:
            match = next(
                (
                    i
                    for i, (s, e, kind) in enumerate(spans)
                    if kind == hit.rule and hit.start < e and s < hit.end and i not in used
                ),
                None,
            )
            if match is None:
                fp += 1
                false_alarms.append(f"{hit.rule}: {text[hit.start : hit.end]!r} in {text[:80]!r}")
            else:
                used.add(match)
                tp += 1
        for i, (s, e, kind) in enumerate(spans):
            if i not in used:
                fn += 1
                misses.append(f"{kind}: {text[s:e]!r}")
    return {
        "samples": len(labelled),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "examples_missed": misses[:15],
        "examples_false_alarms": false_alarms[:15],
    }


def scheme_eval(rounds: int) -> dict[str, Any]:
    """docs/pii.md's scheme from the seeded generator (another seed than the tests use): recall
    per type and form, per evasion, and hard negatives kept unchanged per kind."""
    from collections import defaultdict

    from sluicegate.testing.pii_samples import samples

    caught: dict[str, list[bool]] = defaultdict(list)
    missed: list[str] = []
    for sample in samples(seed=1, rounds=rounds):
        out = scan_text(sample.text, RULES, ACTIONS).text
        if sample.spans:
            ok = all(value not in out for value in sample.values) and sample.spans[0][2] in out
        else:
            ok = out == sample.text
        caught[sample.kind].append(ok)
        if not ok and len(missed) < 20:
            missed.append(f"{sample.kind}: {sample.text!r} -> {out!r}")

    def rate(prefix: str, *, strip: bool = True) -> dict[str, float]:
        found = {k: v for k, v in caught.items() if k.startswith(prefix)}
        name = (lambda k: k.removeprefix(prefix)) if strip else (lambda k: k)
        return {name(k): round(sum(v) / len(v), 3) for k, v in sorted(found.items())}

    def overall(prefixes: tuple[str, ...]) -> float:
        flat = [ok for k, v in caught.items() if k.startswith(prefixes) for ok in v]
        return round(sum(flat) / len(flat), 4)

    return {
        "samples": sum(len(v) for v in caught.values()),
        "span_recall": overall(("card.", "ssn.", "phone.", "email.")),
        "evasion_recall": overall(("evasion.",)),
        "hard_negatives_unchanged": overall(("negative.",)),
        "recall_per_type": {
            kind: value
            for prefix in ("card.", "ssn.", "phone.", "email.")
            for kind, value in rate(prefix, strip=False).items()
        },
        "recall_per_evasion": rate("evasion."),
        "negatives_unchanged_per_kind": rate("negative."),
        "failures": missed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the scheme's generator")
    args = parser.parse_args()
    results = {
        "per_chunk": per_chunk_cost(args.chunks),
        "pii": pii_eval(args.samples),
        "scheme": scheme_eval(args.rounds),
    }
    path = write_results("guardrails", results)
    chunk, pii = results["per_chunk"], results["pii"]
    print(
        f"per chunk: median {chunk['median_us']:.1f} us, p99 {chunk['p99_us']:.1f} us, "
        f"{chunk['throughput_mb_s']:.2f} MB/s over {chunk['chunks']} chunks"
    )
    print(
        f"PII: precision {pii['precision']:.3f}, recall {pii['recall']:.3f} "
        f"(tp {pii['true_positives']}, fp {pii['false_positives']}, fn {pii['false_negatives']})"
    )
    scheme = results["scheme"]
    print(
        f"scheme: span recall {scheme['span_recall']}, evasion recall {scheme['evasion_recall']}, "
        f"hard negatives unchanged {scheme['hard_negatives_unchanged']} over {scheme['samples']} samples"
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
