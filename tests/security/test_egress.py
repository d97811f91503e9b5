"""SSRF: the egress guard against metadata addresses, loopback names, numeric tricks, DNS
rebinding and unconfigured hosts — checked at connect time, refusals audited. Each check runs
through both guarded clients: our own (providers) and httpx's (webhooks, fact sources)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from sluicegate.config import ConfigError, load_config
from sluicegate.config.schema import Config
from sluicegate.errors import AllProvidersFailed, EgressBlocked
from sluicegate.providers.http1 import Http1Client
from sluicegate.runtime import build_runtime
from sluicegate.security.egress import (
    EgressPolicy,
    GuardedTransport,
    loopback_names_for_tests,
)
from sluicegate.testing import MockUpstream
from sluicegate.testing.pipeline import ask
from sluicegate.types import CompletionRequest, Message


def resolver(answers: dict[str, list[list[str]]]) -> Callable[[str, int], Any]:
    """A DNS that answers each name from a list, one answer per lookup (the last one repeats)."""
    calls: dict[str, int] = {}

    async def resolve(host: str, port: int) -> list[str]:
        index = calls.get(host, 0)
        calls[host] = index + 1
        options = answers[host]
        return options[min(index, len(options) - 1)]

    return resolve


Fetch = Callable[..., Awaitable[int]]


@pytest.fixture(params=["providers", "httpx"])
def fetch(request: pytest.FixtureRequest) -> Fetch:
    """`await fetch(policy, url, json=None)`: the status of a GET (or a POST with `json`) made
    through one of the guarded clients."""

    async def with_provider_client(policy: EgressPolicy, url: str, json: Any = None) -> int:
        origin = urlsplit(url)
        client = Http1Client(f"{origin.scheme}://{origin.netloc}", {}, 5.0, addresses=policy.addresses)
        try:
            body = None if json is None else orjson.dumps(json)
            async with client.request(b"GET" if body is None else b"POST", origin.path, body) as response:
                return response.status
        finally:
            await client.aclose()

    async def with_httpx(policy: EgressPolicy, url: str, json: Any = None) -> int:
        async with httpx.AsyncClient(transport=GuardedTransport(policy)) as client:
            if json is not None:
                return (await client.post(url, json=json)).status_code
            return (await client.get(url)).status_code

    return with_provider_client if request.param == "providers" else with_httpx


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata service name"),
        ("http://0x7f000001/", "internal address 127.0.0.1"),
        ("http://localhost:9/", "internal address 127.0.0.1"),
        ("http://internal.example/", "internal address 10.0.0.7"),
        ("http://sneaky.example/", "metadata address 169.254.169.254"),
    ],
)
async def test_internal_destinations_are_refused(fetch: Fetch, url: str, reason: str) -> None:
    refusals: list[tuple[str, str]] = []
    dns = resolver(
        {
            "0x7f000001": [["127.0.0.1"]],
            "localhost": [["127.0.0.1", "::1"]],
            "internal.example": [["10.0.0.7"]],
            "sneaky.example": [["169.254.169.254"]],
        }
    )
    policy = EgressPolicy.from_urls(
        [url], resolver=dns, on_refuse=lambda host, why: refusals.append((host, why))
    )
    with pytest.raises(EgressBlocked) as caught:
        await fetch(policy, url)
    assert reason in str(caught.value)
    assert refusals
    assert reason in refusals[0][1]


async def test_unconfigured_hosts_are_refused() -> None:
    policy = EgressPolicy.from_urls(["https://api.openai.com/v1"])
    with pytest.raises(EgressBlocked, match="not a configured host"):
        await policy.addresses("evil.example", 443)


async def test_dns_rebinding_is_caught_at_connect_time(fetch: Fetch) -> None:
    dns = resolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    policy = EgressPolicy.from_urls(["http://rebind.example/v1"], resolver=dns)
    assert await policy.addresses("rebind.example", 80) == ["93.184.216.34"]  # checked, no connection made
    with pytest.raises(EgressBlocked, match=r"internal address 127\.0\.0\.1"):
        await fetch(policy, "http://rebind.example/v1/models")


async def test_literal_addresses_are_an_explicit_choice(
    fetch: Fetch, upstream_factory: Callable[..., Any]
) -> None:
    upstream = await upstream_factory({"m": [{"text": "hi"}]})
    policy = EgressPolicy.from_urls([upstream.url, "http://[::1]:9/"])
    assert await policy.addresses("127.0.0.1", upstream.port) == ["127.0.0.1"]
    assert await policy.addresses("::1", 9) == ["::1"]
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert await fetch(policy, upstream.url + "/v1/chat/completions", json=body) == 200
    with pytest.raises(EgressBlocked, match="not a configured host"):
        await fetch(policy, f"http://127.0.0.2:{upstream.port}/v1/chat/completions", json=body)


async def test_names_resolving_to_loopback_need_the_test_switch(
    fetch: Fetch, upstream_factory: Callable[..., Any]
) -> None:
    upstream = await upstream_factory({"m": [{"text": "hi"}]})
    url = f"http://localhost:{upstream.port}"
    policy = EgressPolicy.from_urls([url], resolver=resolver({"localhost": [["127.0.0.1"]]}))
    with pytest.raises(EgressBlocked):
        await fetch(policy, url + "/_mock/calls")
    with loopback_names_for_tests():
        assert await fetch(policy, url + "/_mock/calls") == 200


async def test_allow_lists_an_internal_name(fetch: Fetch, upstream_factory: Callable[..., Any]) -> None:
    upstream = await upstream_factory({"m": [{"text": "hi"}]})
    policy = EgressPolicy.from_urls(
        [f"http://models.lan:{upstream.port}"],
        allow=["models.lan"],
        resolver=resolver({"models.lan": [["127.0.0.1"]]}),
    )
    assert await fetch(policy, f"http://models.lan:{upstream.port}/_mock/calls") == 200


def test_the_test_switch_cannot_be_used_outside_pytest() -> None:
    code = "from sluicegate.security.egress import loopback_names_for_tests as s\nwith s(): pass"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "for the test suite only" in result.stderr


def test_a_literal_metadata_base_url_fails_at_start(tmp_path: Any) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("providers:\n  x: {type: openai, base_url: 'http://169.254.169.254/v1'}\n")
    with pytest.raises(ConfigError, match="metadata address"):
        load_config(path, environ={})
    path.write_text(path.read_text() + "egress: {allow: ['169.254.169.254']}\n")
    load_config(path, environ={})


async def test_a_refused_provider_fails_over_and_is_audited(upstream_factory: Callable[..., Any]) -> None:
    upstream: MockUpstream = await upstream_factory({"m": [{"text": "safe answer"}]})
    config = Config.model_validate(
        {
            "providers": {
                "meta": {"type": "openai", "base_url": "http://metadata.google.internal/v1", "models": ["m"]},
                "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]},
            },
            "models": {"r": {"use": ["meta/m", "up/m"]}, "only": {"use": ["meta/m"]}},
            "state": {"backend": "memory"},
        }
    )
    runtime = build_runtime(config)
    request = CompletionRequest("r", (Message("user", "hi"),))
    completion, context, _ = await ask(runtime.pipeline, request)
    assert completion.text == "safe answer"
    assert [a.error for a in context.call.attempts] == ["egress_refused"]
    with pytest.raises(AllProvidersFailed):
        await ask(runtime.pipeline, replace(request, model="only"))
    await runtime.audit.flush()
    assert runtime.audit.store is not None
    refused = await runtime.audit.store.query(type="egress_refused")
    assert refused[0].event.payload == {"host": "metadata.google.internal", "reason": "metadata service name"}
    await runtime.aclose()
