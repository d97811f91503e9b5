"""How often the embedded model (SmolLM2-135M) calls the right tool: the labelled set in
`data/tool_choice.json`, asked through a gateway whose only target is the embedded model.

- `required` (tool_choice "required", the questions that need a tool): the share where the call
  names the labelled tool;
- `auto` (every question): the share where the model's decision (call or answer in words) and its
  tool match the label, with the calls it made on questions that needed none.

The grammar makes every call well-formed (an offered tool, arguments its schema accepts); the
share of parseable arguments is recorded to show it. Used by `tools.py`.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

DATA = Path(__file__).parent / "data" / "tool_choice.json"
EMBEDDED = {
    "providers": {"local": {"type": "llamacpp", "models": ["smollm2-135m"]}},
    "models": {"agent": {"use": ["local/smollm2-135m"]}},
    "cache": {"enabled": False},
    "server": {"log_level": "warning"},
}


def measure(gateway_url: str) -> dict[str, Any]:
    labelled = json.loads(DATA.read_text())
    tools = [{"type": "function", "function": tool} for tool in labelled["tools"]]
    cases: list[dict[str, Any]] = labelled["cases"]
    seconds: list[float] = []
    parsed = calls_made = 0
    failures: list[str] = []
    with httpx.Client(timeout=120) as client:

        def called(question: str, choice: str) -> str | None:
            nonlocal parsed, calls_made
            body = {
                "model": "agent",
                "messages": [{"role": "user", "content": question}],
                "tools": tools,
                "tool_choice": choice,
                "temperature": 0,
                "max_tokens": 80,
            }
            started = time.perf_counter()
            response = client.post(gateway_url + "/v1/chat/completions", json=body)
            seconds.append(time.perf_counter() - started)
            if response.status_code == 400:  # the call did not fit in max_tokens: a miss
                failures.append(response.json()["error"]["message"])
                return "(no answer)"
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            if not message.get("tool_calls"):
                return None
            call = message["tool_calls"][0]["function"]
            calls_made += 1
            try:
                json.loads(call["arguments"])
                parsed += 1
            except json.JSONDecodeError:
                pass
            return str(call["name"])

        needing = [c for c in cases if c["tool"] is not None]
        required_right = sum(called(c["q"], "required") == c["tool"] for c in needing)
        auto = [(c, called(c["q"], "auto")) for c in cases]
    auto_right = sum(tool == case["tool"] for case, tool in auto)
    decided_right = sum(
        (tool is None) == (case["tool"] is None) for case, tool in auto if tool != "(no answer)"
    )
    wordless = [tool for case, tool in auto if case["tool"] is None]
    return {
        "model": "SmolLM2-135M-Instruct (Q4_1), temperature 0, grammar-constrained",
        "questions": len(cases),
        "needing_a_tool": len(needing),
        "required_right_tool": round(required_right / len(needing), 3),
        "auto_right_outcome": round(auto_right / len(cases), 3),
        "auto_right_decision_call_or_words": round(decided_right / len(cases), 3),
        "auto_called_a_tool_when_none_was_needed": f"{sum(t is not None for t in wordless)}/{len(wordless)}",
        "arguments_parseable": f"{parsed}/{calls_made}",
        "answers_refused_as_cut_off_by_max_tokens_80": len(failures),
        "median_s_per_answer": round(statistics.median(seconds), 2),
    }
