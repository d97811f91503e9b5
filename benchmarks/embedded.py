"""The embedded model in process (the old design) against the supervised worker (now), on one host:
tokens per second and time to first token, with llama.cpp's extra CPU buffers on and off; the
worker's start time; RSS of the gateway and of the worker.

    python benchmarks/embedded.py [--rounds 3] [--tokens 64]

Writes benchmarks/results/embedded.json. Rounds alternate the four variants so that drift on a
busy machine spreads over all of them; the numbers are medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness import write_results

from sluicegate.providers.cpu import AMX_FLAGS, cpu_flags
from sluicegate.providers.llamacpp import LlamaCppProvider, chatml_prompt, resolve_model_path
from sluicegate.providers.llamacpp_worker import CHATML_STOP, PROBE_PROMPT, load
from sluicegate.testing.processes import GatewayProcess
from sluicegate.types import CompletionRequest, Message

# Different openings, so that no answer starts from another's cached prompt.
QUESTIONS = [
    "Write a short paragraph about the history of paper making.",
    "Explain briefly how a bicycle gear works.",
    "Describe the water cycle for a ten year old.",
    "List three uses of copper and say why.",
    "Tell a short story about a lighthouse keeper.",
]


def in_process(llama: Any, tokens: int, question: str) -> tuple[float, float]:
    """(time to first token, tokens per second after it) with the model in this process."""
    prompt = chatml_prompt([Message("user", question)], "")
    started = time.perf_counter()
    first = 0.0
    count = 0
    for part in llama.create_completion(
        prompt, max_tokens=tokens, temperature=0, stop=CHATML_STOP, stream=True
    ):
        if part["choices"][0].get("text"):
            count += 1
            if count == 1:
                first = time.perf_counter()
    ended = time.perf_counter()
    return first - started, (count - 1) / (ended - first)


async def in_worker(provider: LlamaCppProvider, tokens: int, question: str) -> tuple[float, float]:
    request = CompletionRequest("m", (Message("user", question),), max_tokens=tokens, temperature=0)
    started = time.perf_counter()
    first = 0.0
    count = 0
    async for chunk in provider.stream(request):
        if chunk.text:
            count += 1
            if count == 1:
                first = time.perf_counter()
    ended = time.perf_counter()
    return first - started, (count - 1) / (ended - first)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def in_process_rss() -> float:
    """RSS of a process that loaded the model itself, as the gateway did before."""
    code = (
        "import sys; sys.path.insert(0, 'benchmarks');"
        "from sluicegate.providers.llamacpp_worker import load;"
        "from sluicegate.providers.llamacpp import resolve_model_path;"
        "import sluicegate.server, sluicegate.runtime;"
        "m = load({'model_path': str(resolve_model_path('builtin:smollm2-135m')), 'n_ctx': 2048,"
        " 'extra_buffers': True}); m.create_completion('hi', max_tokens=4);"
        "print(open('/proc/self/status').read())"
    )
    status = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def gateway_rss() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        gateway = GatewayProcess({}, Path(folder))
        try:
            import httpx

            httpx.post(
                gateway.url + "/v1/chat/completions",
                json={"model": "reasoning", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
                timeout=60,
            )
            children = Path(f"/proc/{gateway.process.pid}/task/{gateway.process.pid}/children").read_text()
            worker = int(children.split()[0])
            return {
                "gateway_mib": round(rss_mib(gateway.process.pid), 1),
                "worker_mib": round(rss_mib(worker), 1),
            }
        finally:
            gateway.stop()


async def main(rounds: int, tokens: int) -> dict[str, Any]:
    path = str(resolve_model_path("builtin:smollm2-135m"))
    variants: dict[str, list[tuple[float, float]]] = {}
    starts: list[float] = []
    # Where the CPU advertises AMX, the extra-buffer path may fault (that is why auto avoids it):
    # only the path users get is measured there.
    paths = (False,) if cpu_flags() & AMX_FLAGS else (True, False)
    for _ in range(rounds):
        for extra in paths:
            label = "on" if extra else "off"
            llama = load({"model_path": path, "n_ctx": 2048, "extra_buffers": extra})
            # Warmed the way the worker's probe warms it: the question itself stays uncached.
            llama.create_completion(PROBE_PROMPT, max_tokens=2, temperature=0.0)
            runs = variants.setdefault(f"in_process_extra_{label}", [])
            runs += [in_process(llama, tokens, question) for question in QUESTIONS]
            # The design before the worker: in process, on the provider's one executor thread.
            with ThreadPoolExecutor(max_workers=1) as thread:
                llama.create_completion(PROBE_PROMPT, max_tokens=2, temperature=0.0)
                runs = variants.setdefault(f"in_process_on_a_thread_extra_{label}", [])
                runs += [
                    thread.submit(in_process, llama, tokens, question).result() for question in QUESTIONS
                ]
            del llama
            provider = LlamaCppProvider("bench", cpu_extra_buffers=label)
            started = time.perf_counter()
            await provider.warm()
            starts.append(time.perf_counter() - started)
            runs = variants.setdefault(f"worker_extra_{label}", [])
            runs += [await in_worker(provider, tokens, question) for question in QUESTIONS]
            await provider.aclose()
    table = {
        name: {
            "ttft_ms": round(statistics.median(r[0] for r in runs) * 1000, 1),
            "tokens_per_s": round(statistics.median(r[1] for r in runs), 1),
        }
        for name, runs in variants.items()
    }
    label = "on" if paths[0] else "off"
    in_process_rate = table[f"in_process_extra_{label}"]["tokens_per_s"]
    worker_rate = table[f"worker_extra_{label}"]["tokens_per_s"]
    cost = None
    if len(paths) == 2:
        on, off = table["worker_extra_on"]["tokens_per_s"], table["worker_extra_off"]["tokens_per_s"]
        cost = round((on - off) / on * 100, 1)
    return {
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "amx_flags": sorted(cpu_flags() & AMX_FLAGS),
        },
        "rounds": rounds,
        "completion_tokens": tokens,
        "requests_per_variant": rounds * len(QUESTIONS),
        "variants": table,
        "worker_overhead_per_token_us": round((1 / worker_rate - 1 / in_process_rate) * 1e6, 1),
        "extra_buffers_off_costs_pct": cost,
        "worker_start_s_median": round(statistics.median(starts), 3),
        "rss": {"in_process_gateway_mib": round(in_process_rss(), 1), **gateway_rss()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    results = asyncio.run(main(args.rounds, args.tokens))
    print(write_results("embedded", results))
    print(results)
