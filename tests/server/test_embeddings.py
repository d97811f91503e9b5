"""`POST /v1/embeddings` with the official client: floats and base64 (its default), `dimensions`,
token-id inputs, failover to a target that serves embeddings, the cache, the budget, the audit
trail, and a route that cannot embed refused by name."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

SCRIPT: dict[str, Any] = {
    "text-embedding-3-small": [{"text": ""}],
    "broken-embedder": [{"fault": "server_error"}],
    "chat": [{"text": "hello"}],
}


@pytest.fixture
def served(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> tuple[UvicornThread, MockUpstream]:
    upstream = threaded_upstream(SCRIPT)
    server = gateway(
        {
            "providers": {
                "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": list(SCRIPT)},
                "claude": {"type": "anthropic", "base_url": upstream.url, "models": ["chat"]},
            },
            "models": {
                "embed": {"use": ["up/text-embedding-3-small"]},
                "sturdy": {"use": ["claude/chat", "up/broken-embedder", "up/text-embedding-3-small"]},
                "talk": {"use": ["claude/chat"]},
            },
            "budgets": {"tokens_per_hour_per_user": 1000},
        }
    )
    return server, upstream


def vector(embedding: list[float] | str) -> list[float]:
    """A vector as sent: floats, or (asked for explicitly, so the client leaves it) base64 of
    little-endian float32."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return embedding


def client_for(server: UvicornThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_the_official_client_gets_one_vector_per_input(
    served: tuple[UvicornThread, MockUpstream], encoding: str
) -> None:
    server, upstream = served
    with client_for(server) as client:
        reply = client.embeddings.create(
            model="embed",
            input=["a manga shop", "a comic store"],
            encoding_format=encoding,  # type: ignore[arg-type]
        )
    assert [item.index for item in reply.data] == [0, 1]
    vectors = [vector(item.embedding) for item in reply.data]
    assert all(len(v) == 8 for v in vectors)
    assert vectors[0] != vectors[1]
    assert reply.usage.prompt_tokens == 6
    # Floats on the upstream hop whatever the client asked; the gateway encodes base64 itself.
    assert upstream.requests[-1]["encoding_format"] == "float"


def test_base64_and_float_carry_the_same_vector(served: tuple[UvicornThread, MockUpstream]) -> None:
    server, _ = served
    with client_for(server) as client:
        as_float = client.embeddings.create(model="embed", input="x y", encoding_format="float")
        as_base64 = client.embeddings.create(model="embed", input="x y z")  # the client's default
        again = client.embeddings.create(model="embed", input="x y z", encoding_format="float")
    assert len(as_float.data[0].embedding) == 8
    assert as_base64.data[0].embedding == pytest.approx(again.data[0].embedding, abs=1e-6)


def test_dimensions_and_token_ids_are_forwarded(served: tuple[UvicornThread, MockUpstream]) -> None:
    server, upstream = served
    with client_for(server) as client:
        reply = client.embeddings.create(model="embed", input=[[1, 2, 3], [4]], dimensions=16)
    assert [len(item.embedding) for item in reply.data] == [16, 16]
    assert upstream.requests[-1]["dimensions"] == 16
    assert upstream.requests[-1]["input"] == [[1, 2, 3], [4]]


def test_failover_skips_a_target_that_cannot_embed_and_one_that_fails(
    served: tuple[UvicornThread, MockUpstream],
) -> None:
    server, _ = served
    response = httpx.post(server.url + "/v1/embeddings", json={"model": "sturdy", "input": "hello"})
    assert response.status_code == 200
    assert len(response.json()["data"][0]["embedding"]) == 8
    trace = response.headers["x-sluicegate-trace-id"]
    events = httpx.get(server.url + "/admin/events", params={"trace_id": trace}).json()["events"]
    completed = next(e for e in events if e["type"] == "request_completed")
    assert completed["payload"]["outcome"] == "ok"


def test_a_route_that_cannot_embed_is_refused_by_name(served: tuple[UvicornThread, MockUpstream]) -> None:
    server, _ = served
    with client_for(server) as client, pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="talk", input="hello")
    assert refused.value.code == "unsupported_by_target"
    assert "embeddings are not served by claude/chat" in refused.value.message


def test_the_cache_answers_a_repeat_and_the_budget_counts_the_prompt(
    served: tuple[UvicornThread, MockUpstream],
) -> None:
    server, upstream = served
    first = httpx.post(server.url + "/v1/embeddings", json={"model": "embed", "input": "one two three"})
    second = httpx.post(server.url + "/v1/embeddings", json={"model": "embed", "input": "one two three"})
    assert first.headers["x-sluicegate-cache"] == "miss"
    assert second.headers["x-sluicegate-cache"] == "hit"
    assert second.json()["data"] == first.json()["data"]
    assert upstream.calls["text-embedding-3-small"] == 1
    trace = first.headers["x-sluicegate-trace-id"]
    events = httpx.get(server.url + "/admin/events", params={"trace_id": trace}).json()["events"]
    states = [e["payload"]["to_state"] for e in events if e["type"] == "routing_transition"]
    assert states == [
        "AUTHORIZE",
        "MODEL_SELECTION",
        "CACHE_LOOKUP",
        "BUDGET_RESERVE",
        "LLM_CALL",
        "BUDGET_SETTLE",
        "CACHE_STORE",
        "COMPLETED",
    ]
    decisions = [e["payload"] for e in events if e["type"] == "budget_decision"]
    # Reserved as estimated (13 characters: 4 tokens), committed as the upstream counted (3).
    assert [(d["decision"], d["tokens"]) for d in decisions] == [("reserved", 4), ("committed", 3)]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": "embed"}, "'input': Field required"),
        ({"model": "embed", "input": ""}, "input"),
        ({"model": "embed", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "embed", "input": "x", "made_up": 1}, "made_up"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    served: tuple[UvicornThread, MockUpstream], body: dict[str, Any], says: str
) -> None:
    server, _ = served
    response = httpx.post(server.url + "/v1/embeddings", json=body)
    assert response.status_code == 400
    assert says in response.json()["error"]["message"]
