"""The gateway's own tools on a routed assistant turn, against a mock upstream: the last round
answers in words (tool_choice "none"), and a model that cannot write the gateway's tool call (the
embedded model cut off mid-call answers 400) is asked again without tools instead of failing the
turn — found by the bait benchmark: turns ended empty or in an `upstream_bad_request` error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from sluicegate.testing import MockUpstream
from sluicegate.testing.sse import sse_frames
from sluicegate.testing.threads import UvicornThread

QUESTION = "Can you explain why the art style of older manga changed, and compare it with today's?"


def start(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread], replies: list[Any]
) -> tuple[UvicornThread, MockUpstream]:
    upstream = threaded_upstream({"m": replies})
    server = gateway(
        {
            "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]}},
            "models": {"reasoning": {"use": ["up/m"]}},
            "retry": {"attempts": 1},
            "routing": {"validation": False},
        }
    )
    return server, upstream


def turn(server: UvicornThread) -> list[tuple[str, Any]]:
    response = httpx.post(
        server.url + "/v1/assistant/sessions/r1/messages", json={"content": QUESTION}, timeout=30
    )
    return sse_frames(response.text)


def test_the_last_round_answers_in_words(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    calls = [{"tool_calls": [{}]}] * 4  # a model that would call the shop's tools forever
    server, upstream = start(
        threaded_upstream, gateway, [*calls, {"text": "Art styles follow tools and taste."}]
    )
    got = turn(server)
    assert got[-1][0] == "complete"
    assert got[-1][1]["text"] == "Art styles follow tools and taste."
    assert [r.get("tool_choice") for r in upstream.requests] == ["auto"] * 4 + ["none"]


def test_a_tool_call_the_model_cannot_write_is_asked_again_without_tools(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    server, upstream = start(
        threaded_upstream, gateway, [{"fault": "bad_request"}, {"text": "Styles changed with printing."}]
    )
    got = turn(server)
    assert got[-1][0] == "complete", got[-1]
    assert got[-1][1]["text"] == "Styles changed with printing."
    assert [r.get("tool_choice") for r in upstream.requests] == ["auto", "none"]
