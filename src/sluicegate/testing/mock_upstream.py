"""A real HTTP server on loopback that speaks the OpenAI Chat Completions and the Anthropic
Messages protocols, streaming included, and plays a `Script`: replies, delays and faults
(500, 429 with Retry-After, hangs, slow drips, connections cut after N chunks, malformed
SSE, in-band error events). It counts the calls each model received.

    upstream = MockUpstream(Script.parse({"models": {"m": [{"text": "hi"}]}}))
    await upstream.start()          # upstream.url -> http://127.0.0.1:PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import Counter
from typing import Any

from sluicegate.providers.script import Fault, Reply, Script, ScriptPlayer, continuation, shaped
from sluicegate.providers.tokens import estimate_message_tokens
from sluicegate.testing.http11 import HttpRequest, HttpResponder, read_request
from sluicegate.testing.mock_dialects import AnthropicDialect, Dialect, OpenAIDialect
from sluicegate.testing.mock_tools import MockCall, calls_for, json_text, tool_result_text
from sluicegate.types import Message, Role

OPENAI_PATHS = {"/v1/chat/completions", "/chat/completions"}
ANTHROPIC_PATHS = {"/v1/messages"}
EMBEDDING_PATHS = {"/v1/embeddings", "/embeddings"}
DEFAULT_DIMENSIONS = 8


class MockUpstream:
    def __init__(self, script: Script) -> None:
        self.player = ScriptPlayer(script)
        self.calls: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        # (model, time.monotonic()) of every call: the system-wide monotonic clock, comparable
        # with another process's on the same machine.
        self.arrivals: list[tuple[str, float]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._connection, host, port, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        responder = HttpResponder(writer)
        try:
            while (request := await read_request(reader)) is not None:
                if not await self._handle(request, responder):
                    return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _handle(self, request: HttpRequest, out: HttpResponder) -> bool:
        """Answer one request; False when the connection must not be reused."""
        if request.method == "GET" and request.path == "/_mock/calls":
            out.send(200, json.dumps(dict(self.calls)).encode())
            return True
        if request.method == "GET" and request.path == "/_mock/arrivals":
            out.send(200, json.dumps(self.arrivals).encode())
            return True
        if request.method == "POST" and request.path in EMBEDDING_PATHS:
            return await self._embeddings(request, out)
        if request.method != "POST" or request.path not in OPENAI_PATHS | ANTHROPIC_PATHS:
            out.send(404, b'{"error": {"message": "no such route", "type": "not_found"}}')
            return True
        wire = "openai" if request.path in OPENAI_PATHS else "anthropic"
        try:
            payload = json.loads(request.body)
            model = str(payload["model"])
            messages = _messages(payload)
        except (ValueError, KeyError, TypeError):
            out.send(400, b'{"error": {"message": "bad request body", "type": "invalid_request_error"}}')
            return True
        self.calls[model] += 1
        self.arrivals.append((model, time.monotonic()))
        if len(self.requests) < 1000:
            self.requests.append(payload)
        if not self.player.knows(model):
            out.send(
                404,
                json.dumps(
                    {"error": {"message": f"model {model} not found", "type": "invalid_request_error"}}
                ).encode(),
            )
            return True
        reply = self.player.next_reply(model, messages)
        prefix = _assistant_prefix(payload, wire)
        wanted = json_text(payload) if reply.json_answer and wire == "openai" else None
        text = continuation(wanted if wanted is not None else reply.reply_text(messages), prefix)
        max_tokens = payload.get("max_tokens")
        chunks, finish = shaped(
            reply, text, _stop_sequences(payload, wire), max_tokens if isinstance(max_tokens, int) else None
        )
        calls = calls_for(reply, payload, wire)
        ending: str = "tool_calls" if calls else finish
        usage = (estimate_message_tokens(messages), len(chunks) + sum(len(c.pieces()) for c in calls))
        await asyncio.sleep(reply.first_delay_s)
        credentials = _credentials(request.headers) if reply.echo_credentials else ""
        top = int(payload.get("top_logprobs") or 0) if payload.get("logprobs") else None
        dialect = (OpenAIDialect if wire == "openai" else AnthropicDialect)(model, credentials, top)
        if payload.get("stream"):
            return await _stream(out, reply, chunks, ending, usage, dialect, calls)
        return await _whole(out, reply, "".join(chunks), ending, usage, dialect, calls)

    async def _embeddings(self, request: HttpRequest, out: HttpResponder) -> bool:
        """OpenAI's embeddings endpoint: a vector per input that depends on the input alone (so
        equal inputs get equal vectors), `dimensions` long (8 unless asked); a script's fault for
        the model applies."""
        try:
            payload = json.loads(request.body)
            model = str(payload["model"])
            given = payload["input"]
        except (ValueError, KeyError, TypeError):
            out.send(400, b'{"error": {"message": "bad request body", "type": "invalid_request_error"}}')
            return True
        self.calls[model] += 1
        if len(self.requests) < 1000:
            self.requests.append(payload)
        if not self.player.knows(model):
            out.send(404, json.dumps({"error": {"message": f"model {model} not found"}}).encode())
            return True
        reply = self.player.next_reply(model, [])
        if reply.fault is not None:
            return await _fail_before_start(out, reply, OpenAIDialect(model, ""))
        inputs = [given] if isinstance(given, str) or (given and isinstance(given[0], int)) else list(given)
        size = int(payload.get("dimensions") or DEFAULT_DIMENSIONS)
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(json.dumps(item), size)}
            for i, item in enumerate(inputs)
        ]
        tokens = sum(len(item) if isinstance(item, list) else len(item.split()) for item in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        out.send(200, json.dumps({"object": "list", "data": data, "model": model, "usage": usage}).encode())
        return True


def _vector(text: str, size: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(digest[i % len(digest)] / 255 - 0.5, 6) for i in range(size)]


async def _whole(
    out: HttpResponder,
    reply: Reply,
    text: str,
    finish: str,
    usage: tuple[int, int],
    dialect: Dialect,
    calls: list[MockCall],
) -> bool:
    if reply.fault is not None:
        return await _fail_before_start(out, reply, dialect)
    out.send(200, json.dumps(dialect.whole(text, finish, usage, calls)).encode())
    return True


async def _stream(
    out: HttpResponder,
    reply: Reply,
    chunks: list[str],
    finish: str,
    usage: tuple[int, int],
    dialect: Dialect,
    calls: list[MockCall],
) -> bool:
    if reply.fault is not None and reply.fault_after_chunks == 0 and reply.fault is not Fault.truncate:
        return await _fail_before_start(out, reply, dialect)
    out.start_chunked()
    for event in dialect.opening(usage):
        await out.chunk(event)
    for index, piece in enumerate(chunks):
        if reply.fault is not None and index == reply.fault_after_chunks:
            return await _fail_mid_stream(out, reply, dialect)
        if index and reply.chunk_delay_s:
            await asyncio.sleep(reply.chunk_delay_s)
        await out.chunk(dialect.delta(piece))
    events = [event for call_index, call in enumerate(calls) for event in dialect.call(call_index, call)]
    for number, event in enumerate(events, start=len(chunks)):
        # A fault after N chunks counts the tool-call pieces too: a call can be cut in its middle.
        if reply.fault is not None and number == reply.fault_after_chunks:
            return await _fail_mid_stream(out, reply, dialect)
        if reply.chunk_delay_s:
            await asyncio.sleep(reply.chunk_delay_s)
        await out.chunk(event)
    if reply.fault is not None:
        return await _fail_mid_stream(out, reply, dialect)
    for event in dialect.closing(finish, usage):
        await out.chunk(event)
    await out.end_chunked()
    return True


async def _fail_before_start(out: HttpResponder, reply: Reply, dialect: Dialect) -> bool:
    fault = reply.fault
    if fault is Fault.hang:
        await asyncio.Event().wait()
    if fault in (Fault.unavailable, Fault.truncate):
        out.abort()
        return False
    if fault is Fault.rate_limited:
        headers = {"retry-after": f"{reply.retry_after_s:g}"} if reply.retry_after_s is not None else {}
        out.send(429, dialect.error_body("rate_limit_error", "rate limited"), extra=headers)
        return True
    if fault is Fault.malformed:
        out.send(200, b"{not json")
        return True
    status = {Fault.bad_request: 400, Fault.auth: 401}.get(fault, 500)  # type: ignore[arg-type]
    kind = {400: "invalid_request_error", 401: "authentication_error"}.get(status, "api_error")
    out.send(status, dialect.error_body(kind, f"scripted {fault.value if fault else 'fault'}"))
    return True


async def _fail_mid_stream(out: HttpResponder, reply: Reply, dialect: Dialect) -> bool:
    fault = reply.fault
    if fault is Fault.hang:
        await asyncio.Event().wait()
    if fault is Fault.malformed:
        await out.chunk(b"data: {not json\n\n")
        await out.end_chunked()
        return True
    if fault in (Fault.server_error, Fault.error_event, Fault.rate_limited):
        kind = "rate_limit_error" if fault is Fault.rate_limited else "overloaded_error"
        await out.chunk(dialect.error_event(kind, "scripted mid-stream error"))
        await out.end_chunked()
        return True
    out.abort()
    return False


def _credentials(headers: dict[str, str]) -> str:
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def _messages(payload: dict[str, Any]) -> list[Message]:
    messages: list[Message] = []
    if isinstance(payload.get("system"), str):
        messages.append(Message("system", payload["system"]))
    for raw in payload["messages"]:
        content = raw.get("content")
        result = tool_result_text(raw)
        if result is not None:  # an Anthropic user turn that carries a tool's result
            messages.append(Message("tool", result))
            continue
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        role: Role = raw["role"] if raw["role"] in ("system", "user", "assistant", "tool") else "user"
        messages.append(Message(role, str(content or "")))
    return messages


def _stop_sequences(payload: dict[str, Any], wire: str) -> list[str]:
    """OpenAI's `stop` (a string or a list) or Anthropic's `stop_sequences`."""
    stop = payload.get("stop") if wire == "openai" else payload.get("stop_sequences")
    if isinstance(stop, str):
        return [stop]
    return [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []


def _assistant_prefix(payload: dict[str, Any], wire: str) -> str:
    """The text a caller asks the model to continue (Anthropic prefill, or our continuation prompt)."""
    messages = payload.get("messages") or []
    if wire == "anthropic" and messages and messages[-1].get("role") == "assistant":
        return str(messages[-1].get("content") or "")
    if (
        wire == "openai"
        and len(messages) >= 2
        and messages[-2].get("role") == "assistant"
        and "cut off" in str(messages[-1].get("content", ""))
    ):
        return str(messages[-2].get("content") or "")
    return ""


def main() -> None:
    """`python -m sluicegate.testing.mock_upstream --script FILE [--port N]`: serve until killed."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description="A mock OpenAI/Anthropic upstream that plays a script.")
    parser.add_argument("--script", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def serve() -> None:
        upstream = MockUpstream(Script.load(args.script))
        await upstream.start(port=args.port)
        print(upstream.url, flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
