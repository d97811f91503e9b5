"""Slow and careless clients: headers that never finish, bodies that trickle or stop, uploads
abandoned half way, too many connections. Raw sockets against a real gateway."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from sluicegate.testing.threads import UvicornThread

CONFIG: dict[str, Any] = {
    "providers": {"demo": {"type": "scripted", "inline": {"models": {"m": [{"text": "hello"}]}}}},
    "models": {"r": {"use": ["demo/m"]}},
    "state": {"backend": "memory"},
    "audit": {"enabled": False},
}
HEADERS = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def serve(gateway: Callable[..., UvicornThread], **server: Any) -> UvicornThread:
    return gateway({**CONFIG, "server": server})


def connect(server: UvicornThread) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_all(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def test_headers_that_never_finish_lose_their_connection(gateway: Callable[..., UvicornThread]) -> None:
    server = serve(gateway, header_timeout_s=0.5)
    with connect(server) as conn:
        conn.sendall(HEADERS.encode())  # and never the blank line that ends them
        started = time.monotonic()
        assert read_all(conn) == b""
        assert time.monotonic() - started < 5
    # A request that finishes its headers in time is served, and so is the next on that connection.
    with httpx.Client(base_url=server.url) as client:
        body = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
        assert client.post("/v1/chat/completions", json=body).status_code == 200
        time.sleep(0.8)  # longer than the header deadline, but the connection was idle: uvicorn's keep-alive
        assert client.post("/v1/chat/completions", json=body).status_code == 200


def read_response(conn: socket.socket) -> bytes:
    """One whole response (its Content-Length) from a kept connection."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += conn.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += conn.recv(65536)
    return head


def test_each_request_on_a_kept_connection_has_its_own_header_deadline(
    gateway: Callable[..., UvicornThread],
) -> None:
    """The deadline runs from the end of the previous response (one timer a connection, moved
    along): requests that keep coming in time are served on one connection for longer than the
    deadline, and headers left unfinished after them still lose the connection."""
    server = serve(gateway, header_timeout_s=0.5, keep_alive_timeout_s=30)
    payload = b'{"model": "r", "messages": [{"role": "user", "content": "hi"}]}'
    request = (HEADERS + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
    with connect(server) as conn:
        started = time.monotonic()
        for _ in range(5):
            conn.sendall(request)
            assert read_response(conn).startswith(b"HTTP/1.1 200")
            answered = time.monotonic()
            time.sleep(0.3)
        assert time.monotonic() - started > 1.0  # twice the deadline, on one connection
        conn.sendall(HEADERS.encode())  # and never the blank line
        assert read_all(conn) == b""
        # Closed when the deadline that began with the last answer ran out.
        assert 0.4 < time.monotonic() - answered < 5


def test_a_body_that_trickles_is_answered_408(gateway: Callable[..., UvicornThread]) -> None:
    server = serve(gateway, body_timeout_s=0.5)
    for framing, start in [
        ("Content-Length: 100\r\n\r\n", '{"model": "r"'),
        ("Transfer-Encoding: chunked\r\n\r\n", '5\r\n{"a":\r\n'),
    ]:
        with connect(server) as conn:
            conn.sendall((HEADERS + framing + start).encode())
            answer = read_all(conn).decode()
        assert answer.startswith("HTTP/1.1 408"), answer
        assert '"code":"request_timeout"' in answer


def test_an_abandoned_upload_is_no_server_error(gateway: Callable[..., UvicornThread]) -> None:
    server = serve(gateway)
    for _ in range(3):
        with connect(server) as conn:
            conn.sendall((HEADERS + "Content-Length: 1000\r\n\r\n" + '{"model": "r", ').encode())
            time.sleep(0.1)
    time.sleep(0.3)
    metrics = httpx.get(server.url + "/metrics").text
    requests = [line for line in metrics.splitlines() if line.startswith("sluicegate_requests_total{")]
    assert not [line for line in requests if 'status="500"' in line], requests
    assert [line for line in requests if 'status="499"' in line and line.endswith(" 3.0")], requests


def test_connections_beyond_the_limit_are_refused_at_once(gateway: Callable[..., UvicornThread]) -> None:
    server = serve(gateway, max_connections=4, header_timeout_s=30)
    held = [connect(server) for _ in range(4)]
    try:
        for conn in held:
            conn.sendall(HEADERS.encode())
        time.sleep(0.2)
        body = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
        refused = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=5)
        assert refused.status_code == 503
    finally:
        for conn in held:
            conn.close()
    time.sleep(0.2)
    assert httpx.post(server.url + "/v1/chat/completions", json=body, timeout=5).status_code == 200
