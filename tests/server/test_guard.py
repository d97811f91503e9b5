"""Requests a foreign web page could make through a local user's browser are refused before any
work: bodies that are not JSON (415), foreign Origins (403), foreign Host names (403, DNS
rebinding). Real gateway, real mock upstream that counts what reached it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

BODY = '{"model": "r", "messages": [{"role": "user", "content": "hi"}]}'


@pytest.fixture
def upstream(threaded_upstream: Callable[..., MockUpstream]) -> MockUpstream:
    return threaded_upstream({"m": [{"text": "spent"}]})


def config(upstream: MockUpstream, **server: Any) -> dict[str, Any]:
    return {
        "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]}},
        "models": {"r": {"use": ["up/m"]}},
        "state": {"backend": "memory"},
        "audit": {"enabled": False},
        "server": server,
    }


def post(url: str, headers: dict[str, str], body: str = BODY) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_body_that_is_not_sent_as_json_is_refused_with_415(
    gateway: Callable[..., UvicornThread], upstream: MockUpstream, content_type: str | None
) -> None:
    server = gateway(config(upstream))
    headers = {"content-type": content_type} if content_type else {}
    answer = post(server.url, headers)
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    assert upstream.calls["m"] == 0
    assert post(server.url, {"content-type": "application/json; charset=utf-8"}).status_code == 200


def test_a_foreign_origin_is_refused_before_any_work(
    gateway: Callable[..., UvicornThread], upstream: MockUpstream
) -> None:
    server = gateway(config(upstream))
    json_type = {"content-type": "application/json"}
    refused = post(server.url, {**json_type, "origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    assert refused.headers["x-sluicegate-trace-id"]
    assert post(server.url, {**json_type, "origin": "null"}).status_code == 403
    assert upstream.calls["m"] == 0
    # Our own pages are same-origin; clients that are not browsers send no Origin.
    assert post(server.url, {**json_type, "origin": server.url}).status_code == 200
    assert post(server.url, json_type).status_code == 200


def test_an_allowed_origin_gets_cors_answers(
    gateway: Callable[..., UvicornThread], upstream: MockUpstream
) -> None:
    server = gateway(config(upstream, cors_allow_origins=["https://app.example"]))
    preflight = httpx.options(
        server.url + "/v1/chat/completions",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    answer = post(server.url, {"content-type": "application/json", "origin": "https://app.example"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-sluicegate-trace-id" in answer.headers["access-control-expose-headers"]
    other = post(server.url, {"content-type": "application/json", "origin": "https://other.example"})
    assert other.status_code == 403


def test_a_rebound_host_name_is_refused_on_a_loopback_gateway(
    gateway: Callable[..., UvicornThread], upstream: MockUpstream
) -> None:
    server = gateway(config(upstream))
    json_type = {"content-type": "application/json"}
    # A DNS-rebinding page is same-origin by the browser's rules: only its Host header gives it away.
    rebound = post(
        server.url, {**json_type, "host": "evil.example:8080", "origin": "http://evil.example:8080"}
    )
    assert rebound.status_code == 403
    assert rebound.json()["error"]["code"] == "host_not_allowed"
    assert upstream.calls["m"] == 0
    assert post(server.url, {**json_type, "host": f"localhost:{server.port}"}).status_code == 200
    assert post(server.url, {**json_type, "host": f"[::1]:{server.port}"}).status_code == 200


def test_allowed_hosts_can_name_the_deployments_own_names(
    gateway: Callable[..., UvicornThread], upstream: MockUpstream
) -> None:
    server = gateway(config(upstream, allowed_hosts=["gateway.internal"]))
    json_type = {"content-type": "application/json"}
    assert post(server.url, {**json_type, "host": "gateway.internal"}).status_code == 200
    assert post(server.url, {**json_type, "host": f"127.0.0.1:{server.port}"}).status_code == 403
    anyone = gateway(config(upstream, allowed_hosts=["*"]))
    assert post(anyone.url, {**json_type, "host": "whatever.example"}).status_code == 200
