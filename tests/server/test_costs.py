"""Keys, budgets and the cache, as clients meet them over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from sluicegate.budgets import BudgetToken
from sluicegate.config.schema import Config
from sluicegate.errors import BudgetExhausted
from sluicegate.internal import InternalLLM
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.state.memory import MemoryStateStore
from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import LoopThread, UvicornThread

ANSWER = "one two three four five"
SCRIPT = {
    "m": [{"echo": True}],
    "fixed": [{"text": ANSWER}],
    "slow": [{"text": " ".join(f"w{i}" for i in range(40)), "chunk_delay_s": 0.05}],
}


def make_config(upstream: MockUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {
            "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m", "fixed", "slow"]}
        },
        "models": {
            "reasoning": {"use": ["up/fixed"]},
            "echo": {"use": ["up/m"]},
            "other": {"use": ["up/fixed"]},
            "slow": {"use": ["up/slow"]},
        },
        **extra,
    }


def post(url: str, key: str | None = None, **body: Any) -> httpx.Response:
    payload = {"model": "reasoning", "messages": [{"role": "user", "content": "hi"}], **body}
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(url + "/v1/chat/completions", json=payload, headers=headers, timeout=30)


@pytest.fixture
def served(
    threaded_upstream: Callable[..., MockUpstream], loop_thread: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[UvicornThread, Runtime, MockUpstream]]:
    started: list[UvicornThread] = []
    monkeypatch.setenv("SG_TEST_ADMIN_KEY", "admin-secret")

    def start(**extra: Any) -> tuple[UvicornThread, Runtime, MockUpstream]:
        upstream = threaded_upstream(SCRIPT)
        runtime = build_runtime(Config.model_validate(make_config(upstream, **extra)))
        server = UvicornThread(_app(runtime)).start()
        started.append(server)
        return server, runtime, upstream

    yield start  # type: ignore[misc]
    for server in started:
        server.stop()


def _app(runtime: Runtime) -> Any:
    from sluicegate.server import create_app

    return create_app(runtime)


def create_key(runtime: Runtime, server: UvicornThread, **options: Any) -> str:
    async def make() -> str:
        secret, _ = await runtime.keys.create(options.pop("user", "ann"), **options)
        return secret

    # The runtime's store belongs to the server's loop: create the key through a fresh store on the same file.
    from sluicegate.runtime import build_state_store

    async def via_file() -> str:
        store = build_state_store(runtime.config.state)
        try:
            from sluicegate.keys import KeyRing

            secret, _ = await KeyRing(store).create(options.pop("user", "ann"), **options)
            return secret
        finally:
            await store.aclose()

    return asyncio.run(via_file())


def test_no_keys_means_open(served: Callable[..., Any]) -> None:
    server, _, _ = served()
    assert post(server.url).status_code == 200


def test_once_a_key_exists_every_call_needs_one(served: Callable[..., Any]) -> None:
    server, runtime, _ = served()
    secret = create_key(runtime, server, user="ann", roles=["reasoning"])
    assert post(server.url).status_code == 401
    assert post(server.url, key="sk-sg-wrong").status_code == 401
    assert post(server.url, key=secret).status_code == 200
    refused = post(server.url, key=secret, model="other")
    assert refused.status_code == 403
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-sg-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_admin_needs_the_admin_key_once_keys_exist(served: Callable[..., Any]) -> None:
    server, runtime, _ = served(auth={"admin_key_env": "SG_TEST_ADMIN_KEY"})
    secret = create_key(runtime, server, user="ann", tokens_per_hour=1000)
    assert httpx.get(server.url + "/admin/budgets").status_code == 401
    assert (
        httpx.get(server.url + "/admin/budgets", headers={"authorization": f"Bearer {secret}"}).status_code
        == 401
    )
    answered = post(server.url, key=secret)
    assert answered.status_code == 200, answered.text
    view = httpx.get(server.url + "/admin/budgets", headers={"authorization": "Bearer admin-secret"}).json()
    ann = next(row for row in view["budgets"] if row["user"] == "ann")
    assert ann["limit"] == 1000
    assert 0 < ann["used"] < 1000
    assert ann["remaining"] == 1000 - ann["used"] - ann["reserved"]


def test_budget_exhaustion_is_429_with_retry_after(served: Callable[..., Any]) -> None:
    server, runtime, _ = served()
    secret = create_key(runtime, server, user="bob", tokens_per_hour=60)
    statuses = [post(server.url, key=secret, max_tokens=40).status_code for _ in range(6)]
    assert statuses[0] == 200
    assert 429 in statuses
    refused = post(server.url, key=secret, max_tokens=40)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"]["code"] == "budget_exceeded"
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=secret, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="reasoning", max_tokens=40, messages=[{"role": "user", "content": "x"}]
        )


def test_cache_hit_miss_and_stream_replay(served: Callable[..., Any]) -> None:
    server, _, upstream = served()
    first = post(server.url, temperature=0)
    second = post(server.url, temperature=0)
    assert (first.headers["x-sluicegate-cache"], second.headers["x-sluicegate-cache"]) == ("miss", "hit")
    assert second.json()["choices"][0]["message"]["content"] == ANSWER
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    with client.chat.completions.with_streaming_response.create(
        model="reasoning", temperature=0, stream=True, messages=[{"role": "user", "content": "hi"}]
    ) as response:
        assert response.headers["x-sluicegate-cache"] == "hit"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert upstream.calls["fixed"] == 1


def test_a_streamed_answer_is_cached_from_its_final_result(served: Callable[..., Any]) -> None:
    server, _, upstream = served()
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        json={
            "model": "reasoning",
            "stream": True,
            "temperature": 0,
            "messages": [{"role": "user", "content": "s"}],
        },
    ) as response:
        assert response.headers["x-sluicegate-cache"] == "miss"
        response.read()
    again = post(server.url, temperature=0, messages=[{"role": "user", "content": "s"}])
    assert again.headers["x-sluicegate-cache"] == "hit"
    assert upstream.calls["fixed"] == 1


def test_ttl_expiry(served: Callable[..., Any]) -> None:
    server, _, upstream = served(cache={"ttl_s": 0.3})
    post(server.url, temperature=0)
    time.sleep(0.4)
    assert post(server.url, temperature=0).headers["x-sluicegate-cache"] == "miss"
    assert upstream.calls["fixed"] == 2


def test_non_deterministic_requests_bypass_unless_opted_in(served: Callable[..., Any]) -> None:
    server, _, upstream = served()
    assert "x-sluicegate-cache" not in post(server.url, temperature=0.9).headers
    post(server.url, temperature=0.9)
    assert upstream.calls["fixed"] == 2
    post(server.url, temperature=0.9, cache=True)
    assert post(server.url, temperature=0.9, cache=True).headers["x-sluicegate-cache"] == "hit"


def test_pii_requests_are_never_cached(served: Callable[..., Any]) -> None:
    server, _, upstream = served()
    body = {"temperature": 0, "messages": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}]}
    post(server.url, **body)
    assert post(server.url, **body).headers["x-sluicegate-cache"] == "miss"
    assert upstream.calls["fixed"] == 2


def test_hits_spend_no_budget(served: Callable[..., Any]) -> None:
    server, runtime, _ = served()
    secret = create_key(runtime, server, user="cat", tokens_per_hour=100)
    assert post(server.url, key=secret, temperature=0, max_tokens=40).status_code == 200
    assert post(server.url, key=secret, temperature=0, max_tokens=40).status_code == 200
    statuses = [post(server.url, key=secret, temperature=0, max_tokens=40).status_code for _ in range(5)]
    assert statuses == [200] * 5


async def test_a_corrupt_cache_entry_is_a_miss(upstream_factory: Callable[..., Any]) -> None:
    upstream = await upstream_factory(SCRIPT)
    store = MemoryStateStore()
    runtime = build_runtime(Config.model_validate(make_config(upstream)), state=store)
    from sluicegate.cache import ResponseCache
    from sluicegate.testing.pipeline import ask
    from sluicegate.types import CompletionRequest, Message

    request = CompletionRequest("reasoning", (Message("user", "hi"),), temperature=0)
    await store.set("cache:" + ResponseCache(store, 60).key("reasoning", request), b"{broken")
    completion, context, _ = await ask(runtime.pipeline, request)
    assert completion.text == ANSWER
    assert context.cache == "miss"
    await runtime.aclose()


async def test_budget_token_pays_for_internal_calls(upstream_factory: Callable[..., Any]) -> None:
    upstream = await upstream_factory(SCRIPT)
    runtime = build_runtime(
        Config.model_validate(make_config(upstream, cache={"enabled": False})), state=MemoryStateStore()
    )
    internal = InternalLLM(runtime.pipeline)
    from sluicegate.types import Message

    token = BudgetToken.mint("summarize-session", 60)
    await internal.complete("reasoning", [Message("user", "summarize")], budget=token, max_tokens=10)
    assert 0 < token.spent < 60

    async def summarize_or_fallback() -> str:
        try:
            reply = await internal.complete(
                "reasoning", [Message("user", "more")], budget=token, max_tokens=100
            )
        except BudgetExhausted:
            return "(summary skipped: budget spent)"
        return reply.text

    assert await summarize_or_fallback() == "(summary skipped: budget spent)"
    assert upstream.calls["fixed"] == 1  # the refused call never reached a model
    await runtime.aclose()


def test_a_client_that_leaves_mid_stream_still_settles_its_budget(served: Callable[..., Any]) -> None:
    server, runtime, _ = served(auth={"admin_key_env": "SG_TEST_ADMIN_KEY"})
    secret = create_key(runtime, server, user="dora", tokens_per_hour=10_000)
    body = {
        "model": "slow",
        "stream": True,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "go"}],
    }
    admin = {"authorization": "Bearer admin-secret"}
    with httpx.stream(
        "POST", server.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {secret}"}
    ) as response:
        lines = response.iter_lines()
        next(lines)
        next(lines)  # a first delta has arrived; now the client goes away
    view: dict[str, Any] = {}
    for _ in range(50):
        view = httpx.get(server.url + "/admin/budgets", headers=admin).json()
        dora = next((row for row in view["budgets"] if row["user"] == "dora"), None)
        if dora and dora["reserved"] == 0:
            break
        time.sleep(0.1)
    dora = next(row for row in view["budgets"] if row["user"] == "dora")
    assert dora["reserved"] == 0
    # Settled when the client left: the prompt and the few words said, not the 40 of a full answer.
    assert 0 < dora["used"] < 40


def test_a_client_that_leaves_mid_stream_still_gets_one_completion_record(served: Callable[..., Any]) -> None:
    server, _, _ = served(budgets={"tokens_per_hour_per_user": 100_000})
    body = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=30) as response:
        trace_id = response.headers["x-sluicegate-trace-id"]
        for line in response.iter_lines():
            if line.startswith("data: ") and "w3" in line:
                break  # the client goes away after a few words
    deadline = time.monotonic() + 10
    while True:
        events = httpx.get(server.url + "/admin/events", params={"trace_id": trace_id}).json()["events"]
        completed = [e for e in events if e["type"] == "request_completed"]
        if completed or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [record] = completed
    assert record["payload"]["outcome"] == "client_disconnected"
    assert record["payload"]["prompt_tokens"] > 0
    assert record["payload"]["completion_tokens"] > 0
    assert "budget_decision" in [e["type"] for e in events]
    metrics = httpx.get(server.url + "/metrics").text
    assert 'sluicegate_tokens_total{kind="completion",role="slow",user="anonymous"}' in metrics


def test_a_request_that_can_never_fit_the_budget_is_a_400_not_a_wait(served: Callable[..., Any]) -> None:
    server, _, upstream = served(budgets={"tokens_per_hour_per_user": 100})
    for body in ({"max_tokens": 500}, {"messages": [{"role": "user", "content": "word " * 400}]}):
        answer = post(server.url, **body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "request_exceeds_budget"
        assert "retry-after" not in answer.headers
    assert post(server.url, max_tokens=5).status_code == 200
    assert upstream.calls["fixed"] == 1
