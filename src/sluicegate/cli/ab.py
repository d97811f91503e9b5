"""`sluicegate ab --a X --b Y --queries FILE`: a blind, position-swapped A/B of two roles or
models through the full pipeline, judged by a role; a readable table and a JSON report."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from sluicegate.cli.common import config_or_exit, fail, runtime_or_exit
from sluicegate.errors import SluicegateError
from sluicegate.evals.ab import ABReport, Answer, BlindAB
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.runtime import Runtime
from sluicegate.types import CompletionRequest, Message, ResponseSchema

out = Console(highlight=False)


class PipelineAnswerer:
    """Each answer through the one pipeline, as a local caller (guardrails, budgets, audit)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def answer(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        schema: ResponseSchema | None = None,
    ) -> Answer:
        request = CompletionRequest(
            model,
            tuple(messages),
            max_tokens=max_tokens,
            temperature=0.0,
            json_mode=schema is not None,
            response_schema=schema,
        )
        ctx = RequestContext()
        token = bind(ctx)
        started = time.monotonic()
        try:
            completion, _ = await self._runtime.pipeline.collect(
                PipelineRequest(request, endpoint="cli:ab", caller=Caller(local=True), stream=False), ctx
            )
        except SluicegateError as exc:
            return Answer("", 0, (time.monotonic() - started) * 1000, error=f"{type(exc).__name__}: {exc}")
        finally:
            unbind(token)
        return Answer(completion.text, completion.usage.total_tokens, (time.monotonic() - started) * 1000)


def read_queries(path: Path) -> list[str]:
    """One query a line, or JSON lines with `query` or `text`."""
    queries: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                fail(f"{path}:{number}: not JSON ({exc.msg})")
            text = item.get("query") or item.get("text") if isinstance(item, dict) else None
            if not isinstance(text, str):
                fail(f"{path}:{number}: a JSON line needs a 'query' or 'text' string")
            queries.append(text)
        else:
            queries.append(line)
    return queries


def ab(
    a: str = typer.Option(..., "--a", help="A role or provider/model."),
    b: str = typer.Option(..., "--b", help="The other role or provider/model."),
    queries: Path = typer.Option(
        ..., "--queries", exists=True, dir_okay=False, help="One query a line, or JSONL."
    ),
    judge: str = typer.Option("validation", "--judge", help="The role that compares the answers."),
    max_tokens: int = typer.Option(512, help="Cap on each answer."),
    seed: int | None = typer.Option(None, help="Seed of the position coin (repeatable runs)."),
    report: Path = typer.Option(Path("ab-report.json"), "--out", help="Where the JSON report goes."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Config file."),
) -> None:
    """Blind A/B of two roles or models: a judge compares each pair twice, positions swapped."""
    settings = config_or_exit(config)
    asked = read_queries(queries)
    if not asked:
        fail(f"{queries}: no queries")
    runtime = runtime_or_exit(settings)
    for name in (a, b, judge):
        try:
            runtime.stacks.resolve(name)
        except SluicegateError as exc:
            fail(str(exc))
    result = asyncio.run(_run(runtime, a, b, judge, asked, max_tokens, seed))
    report.write_text(result.as_json() + "\n", encoding="utf-8")
    summary = result.summary()
    table = Table("", a, b)
    table.add_row("wins", str(summary["a_wins"]), str(summary["b_wins"]))
    table.add_row("ties", str(summary["ties"]), str(summary["ties"]))
    sides = summary["sides"]
    assert isinstance(sides, dict)
    for label, key in (("tokens", "tokens"), ("latency p50 (ms)", "latency_ms_p50"), ("errors", "errors")):
        table.add_row(label, str(sides["a"][key]), str(sides["b"][key]))
    out.print(table)
    interval = summary["a_win_rate_ci95"]
    assert isinstance(interval, list)
    low, high = interval
    out.print(
        f"{a} wins {summary['a_win_rate_decisive']} of decisive queries (95 % CI {low:.2f}-{high:.2f}); "
        f"judge: {judge}, invalid judgments: {summary['invalid_judgments']}; report: {report}"
    )


async def _run(
    runtime: Runtime, a: str, b: str, judge: str, queries: list[str], max_tokens: int, seed: int | None
) -> ABReport:
    comparison = BlindAB(
        PipelineAnswerer(runtime), judge=judge, max_tokens=max_tokens, rng=random.Random(seed)
    )
    try:
        with Progress(console=out, transient=True) as progress:
            task = progress.add_task("comparing", total=len(queries))
            return await comparison.run(a, b, queries, progress=lambda: progress.advance(task))
    finally:
        await runtime.aclose()
