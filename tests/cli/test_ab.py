"""`sluicegate ab` as users run it: two models answer, a judge compares each pair twice with the
positions swapped, and the report says who won — a judge that always prefers the first position
produces ties, not a winner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sluicegate.testing import MockUpstream
from tests.cli.test_cli import run

SCRIPT: dict[str, Any] = {
    "a-m": [{"text": "Paris"}],
    "b-m": [{"text": "Lyon"}],
    # A judge that knows the answer: whichever position holds "Paris" is better.
    "fair": [{"match": "Answer 1:\\nParis", "text": '{"better": "1"}'}, {"text": '{"better": "2"}'}],
    # A judge with a position bias: always the first.
    "biased": [{"text": '{"better": "1"}'}],
}


def configured(tmp_path: Path, upstream: MockUpstream) -> Path:
    path = tmp_path / "sluicegate.yaml"
    config = {
        "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": list(SCRIPT)}},
        "models": {name.replace("-", "_"): {"use": [f"up/{name}"]} for name in SCRIPT},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def compare(tmp_path: Path, upstream: MockUpstream, judge: str, queries: str, *extra: str) -> Any:
    """`sluicegate ab` of a_m against b_m over `queries`, judged by `judge`."""
    config = configured(tmp_path, upstream)
    path = tmp_path / "queries.txt"
    path.write_text(queries, encoding="utf-8")
    done = run(
        "ab", "--a", "a_m", "--b", "b_m", "--judge", judge, "--queries", str(path), "--config", str(config),
        *extra, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_a_fair_judge_picks_the_better_side_in_both_orders(
    tmp_path: Path, threaded_upstream: Callable[..., MockUpstream]
) -> None:
    queries = 'What is the capital of France?\n{"query": "Capital of France?"}\n'
    done = compare(tmp_path, threaded_upstream(SCRIPT), "fair", queries, "--seed", "1")
    report = json.loads((tmp_path / "ab-report.json").read_text())
    summary = report["summary"]
    assert (summary["a_wins"], summary["ties"], summary["b_wins"]) == (2, 0, 0)
    assert summary["a_win_rate_ci95"][0] > 0.3
    assert summary["sides"]["a"]["tokens"] > 0
    assert all(r["verdicts"] == ["a", "a"] for r in report["results"])
    assert "wins" in done.stdout


def test_a_judge_biased_to_the_first_position_yields_ties(
    tmp_path: Path, threaded_upstream: Callable[..., MockUpstream]
) -> None:
    compare(tmp_path, threaded_upstream(SCRIPT), "biased", "one\ntwo\nthree\n")
    summary = json.loads((tmp_path / "ab-report.json").read_text())["summary"]
    assert (summary["a_wins"], summary["ties"], summary["b_wins"]) == (0, 3, 0)


def test_unknown_roles_and_empty_files_fail_in_one_line(
    tmp_path: Path, threaded_upstream: Callable[..., MockUpstream]
) -> None:
    config = configured(tmp_path, threaded_upstream(SCRIPT))
    queries = tmp_path / "queries.txt"
    queries.write_text("one\n", encoding="utf-8")
    unknown = run(
        "ab", "--a", "nope", "--b", "b_m", "--queries", str(queries), "--config", str(config), cwd=tmp_path
    )
    assert unknown.returncode != 0
    assert "nope" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    nothing = run(
        "ab", "--a", "a_m", "--b", "b_m", "--queries", str(empty), "--config", str(config), cwd=tmp_path
    )
    assert nothing.returncode != 0
    assert "no queries" in nothing.stderr
