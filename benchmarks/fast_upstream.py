"""A mock OpenAI upstream fast enough never to be the bottleneck: uvloop, httptools' C parser and
canned bytes written straight to the transport (tens of thousands of requests/s on one core).

    python benchmarks/fast_upstream.py [--port P] [--chunks N]

Prints its base URL on the first line of stdout, then serves until interrupted.
`POST /v1/chat/completions` answers a completion, or with `"stream": true` an SSE stream of
content chunks (as many as the request's `max_tokens`, else `--chunks`), a finish chunk, a usage
chunk and `[DONE]`. Anything else is a 404.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket

import httptools
import uvloop

WORD = "word "
TEXT = "The capital of France is Paris, a city on the Seine."


def completion_response() -> bytes:
    body = json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 14, "completion_tokens": 12, "total_tokens": 26},
        }
    ).encode()
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: keep-alive\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


def stream_response(chunks: int) -> bytes:
    def event(choices: list[object], **extra: object) -> bytes:
        data = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        return b"data: " + json.dumps({**data, "choices": choices, **extra}).encode() + b"\n\n"

    events = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    events += [
        event([{"index": 0, "delta": {"content": WORD}, "finish_reason": None}]) for _ in range(chunks)
    ]
    events.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    usage = {"prompt_tokens": 14, "completion_tokens": chunks, "total_tokens": 14 + chunks}
    events.append(event([], usage=usage))
    events.append(b"data: [DONE]\n\n")
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"connection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    return head + body


MAX_TOKENS = re.compile(rb'"max_tokens":\s*(\d+)')
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self, completion: bytes, streams: dict[int, bytes], chunks: int) -> None:
        self._completion = completion
        self._streams = streams
        self._chunks = chunks
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have its methods.
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        url, body = self._url, b"".join(self._body)
        self._url, self._body = b"", []
        if not url.endswith(b"/chat/completions"):
            self._transport.write(NOT_FOUND)
            return
        if b'"stream":true' not in body.replace(b" ", b""):
            self._transport.write(self._completion)
            return
        found = MAX_TOKENS.search(body)
        chunks = min(int(found.group(1)), 10_000) if found else self._chunks
        if chunks not in self._streams:
            self._streams[chunks] = stream_response(chunks)
        self._transport.write(self._streams[chunks])


async def serve(port: int, chunks: int) -> None:
    loop = asyncio.get_running_loop()
    completion, streams = completion_response(), {chunks: stream_response(chunks)}
    server = await loop.create_server(
        lambda: UpstreamProtocol(completion, streams, chunks), "127.0.0.1", port, backlog=4096
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=20)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.port, args.chunks))


if __name__ == "__main__":
    main()
