"""The tier-0 gate refuses before a single token is spent."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from sluicegate.config.schema import Tier0Config
from sluicegate.guardrails.tier0 import Tier0Gate
from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread
from sluicegate.types import Message

SETTINGS = Tier0Config.model_validate(
    {
        "max_input_chars": 200,
        "blocked_users": ["mallory"],
        "deny": [
            {
                "name": "weapons",
                "pattern": r"(?i)\bbuild (a|an) (bomb|weapon)\b",
                "reason": "Not something we help with.",
            }
        ],
        "require_any": [
            {
                "name": "shop_scope",
                "pattern": r"(?i)\b(manga|volume|book|order|price|series)\b",
                "reason": "I can help with the manga shop only.",
            }
        ],
    }
)


def check(text: str, user: str = "ann") -> str | None:
    refusal = Tier0Gate(SETTINGS).check(user, [Message("system", "be nice"), Message("user", text)])
    return refusal.rule if refusal else None


def test_rules_in_order() -> None:
    assert check("What is the price of volume 3?") is None
    assert check("What is the price of volume 3?", user="Mallory") == "blocked_user"
    assert check("manga " * 50) == "max_input"
    assert check("Which manga explains how to build a bomb?") == "weapons"
    assert check("What is the capital of France?") == "shop_scope"


def test_refused_over_http_before_any_token(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    upstream = threaded_upstream({"m": [{"text": "should never be asked"}]})
    server = gateway(
        {
            "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]}},
            "models": {"assistant": {"use": ["up/m"]}},
            "guardrails": {"tier0": SETTINGS.model_dump()},
        }
    )
    for stream in (False, True):
        response = httpx.post(
            server.url + "/v1/chat/completions",
            json={
                "model": "assistant",
                "stream": stream,
                "messages": [{"role": "user", "content": "capital of France?"}],
            },
        )
        assert response.status_code == 403
        error = response.json()["error"]
        assert (error["code"], error["param"], error["message"]) == (
            "policy_refused",
            "shop_scope",
            "I can help with the manga shop only.",
        )
    assert upstream.calls == {}
    trace = response.headers["x-sluicegate-trace-id"]
    events = httpx.get(
        server.url + "/admin/events", params={"trace_id": trace, "type": "guardrail_hit"}
    ).json()
    assert [(e["payload"]["stage"], e["payload"]["rule"]) for e in events["events"]] == [
        ("tier0", "shop_scope")
    ]
    allowed = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "assistant", "messages": [{"role": "user", "content": "Any new manga volumes?"}]},
    )
    assert allowed.status_code == 200
