"""What is written in one pass of the event loop leaves as one write; nothing waits longer, and
closing sends what is held first."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from sluicegate.server.corked_transport import CorkedTransport
from sluicegate.testing.processes import GatewayProcess


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5) if name == "peername" else default


async def one_pass() -> None:
    await asyncio.sleep(0)


async def test_writes_of_one_pass_leave_together_and_the_next_pass_separately() -> None:
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop(), hold_s=60)
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    corked.write(b"body")
    assert inner.writes == []
    await one_pass()
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    corked.writelines([b"data: 1\n\n", b"data: 2\n\n"])
    await one_pass()
    corked.write(b"data: 3\n\n")
    await one_pass()
    assert inner.writes[1:] == [b"data: 1\n\ndata: 2\n\n", b"data: 3\n\n"]


async def test_ending_the_writing_side_sends_what_is_held_first() -> None:
    """A WebSocket handshake refused by the server ends with write_eof after its answer."""
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop(), hold_s=60)
    corked.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
    corked.write_eof()
    assert inner.writes == [b"HTTP/1.1 403 Forbidden\r\n\r\n", b"<eof>"]


async def test_close_sends_what_is_held_first() -> None:
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop(), hold_s=60)
    corked.write(b"last words")
    corked.close()
    assert (inner.writes, inner.closed) == ([b"last words"], True)
    corked.write(b"too late")
    await one_pass()
    assert inner.writes == [b"last words"]


async def test_abort_drops_what_is_held_and_the_rest_is_the_transports() -> None:
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop(), hold_s=60)
    corked.write(b"never sent")
    corked.abort()
    await one_pass()
    assert (inner.writes, inner.aborted) == ([], True)
    assert corked.get_extra_info("peername") == ("127.0.0.1", 5)
    assert corked.is_closing()


async def test_a_long_burst_leaves_in_groups_without_waiting_for_its_end() -> None:
    """Once the first held write is older than the hold, the next write takes everything out."""
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop(), hold_s=0)
    corked.write(b"head")
    assert inner.writes == []  # the first write of a pass is always held
    corked.write(b"first")
    assert inner.writes == [b"headfirst"]
    corked.write(b"second")
    await one_pass()
    assert inner.writes == [b"headfirst", b"second"]


async def test_a_response_head_leaves_with_the_next_write_at_once() -> None:
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop(), hold_s=60)
    corked.expect_response()
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    corked.write(b"whole answer")
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nwhole answer"]
    corked.write(b"next")  # no response head before it: held as usual
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nwhole answer"]
    await one_pass()
    assert inner.writes[1:] == [b"next"]


async def test_a_head_released_alone_does_not_make_a_later_write_leave_early() -> None:
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop(), hold_s=60)
    corked.expect_response()
    corked.write(b"head")
    await one_pass()  # a stream's head, its first event not yet there
    corked.write(b"event 1")
    corked.write(b"event 2")
    assert inner.writes == [b"head"]
    await one_pass()
    assert inner.writes == [b"head", b"event 1event 2"]


def test_a_served_gateway_answers_whole_and_refuses_a_websocket_handshake(tmp_path: Path) -> None:
    """Through uvicorn and the corked transport: a whole answer, and a refused WebSocket upgrade
    (answered, then the writing side ended) arrive in full."""
    config = {
        "providers": {"s": {"type": "scripted", "inline": {"models": {"m": [{"text": "hi"}]}}}},
        "models": {"m": {"use": ["s/m"]}},
    }
    gateway = GatewayProcess(config, tmp_path)
    try:
        host, port = gateway.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as ws:
            ws.sendall(
                b"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            refused = b"".join(iter(lambda: ws.recv(4096), b""))
        assert refused.startswith(b"HTTP/1.1 403")
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]}).encode()
        with socket.create_connection((host, int(port)), timeout=10) as chat:
            chat.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            answer = b"".join(iter(lambda: chat.recv(4096), b""))
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert json.loads(payload)["choices"][0]["message"]["content"] == "hi"
    finally:
        gateway.stop()
