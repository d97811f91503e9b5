"""The provider client against a loopback server writing exact bytes: what it sends, how it reads
each way an HTTP/1.1 answer can be framed, and when a connection is kept or thrown away."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest

from sluicegate.errors import ConnectionClosed, HttpProtocolError
from sluicegate.providers.http1 import Http1Client
from sluicegate.testing.http11 import HttpRequest
from sluicegate.testing.threads import free_port

from .conftest import Serve, ok, post


def answering(*raw: bytes, keep_open: bool = True):  # type: ignore[no-untyped-def]
    """Answer the n-th request with the n-th bytes (the last repeats)."""
    answers = list(raw)

    async def answer(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(answers.pop(0) if len(answers) > 1 else answers[0])
        return keep_open

    return answer


def answering_after(delay_s: float):  # type: ignore[no-untyped-def]
    """Answer every request with `ok()`, `delay_s` after it came."""

    async def answer(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(delay_s)
        writer.write(ok())
        return True

    return answer


async def test_the_request_carries_path_headers_and_body(serve: Serve) -> None:
    server = await serve(answering(ok(b'{"a": 1}')))
    client = Http1Client(server.url + "/v1/", {"Authorization": "Bearer sk-x"}, 5.0)
    status, headers, body = await post(client, b'{"q": "\xc3\xa9"}')
    await client.aclose()
    assert (status, headers["content-type"], body) == (200, "application/json", b'{"a": 1}')
    request = server.requests[0]
    assert (request.method, request.path, request.body) == (
        "POST",
        "/v1/chat/completions",
        b'{"q": "\xc3\xa9"}',
    )
    port = server.url.rsplit(":", 1)[1]
    assert request.headers["host"] == f"127.0.0.1:{port}"
    assert request.headers["authorization"] == "Bearer sk-x"
    assert request.headers["content-length"] == str(len(request.body))
    assert "accept-encoding" not in request.headers  # answers come uncompressed unless a server insists


async def test_a_kept_alive_connection_carries_the_next_request(serve: Serve) -> None:
    server = await serve(answering(ok()))
    client = Http1Client(server.url, {}, 5.0)
    for _ in range(3):
        assert (await post(client))[0] == 200
    await client.aclose()
    assert server.connections == 1


async def test_connection_close_is_honoured(serve: Serve) -> None:
    server = await serve(answering(ok(connection="close")))
    client = Http1Client(server.url, {}, 5.0)
    for _ in range(2):
        assert (await post(client))[2] == b"{}"
    await client.aclose()
    assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused(serve: Serve) -> None:
    server = await serve(answering(ok(), keep_open=False))  # closes after answering, without saying so
    client = Http1Client(server.url, {}, 5.0)
    assert (await post(client))[0] == 200
    await asyncio.sleep(0.05)
    assert (await post(client))[0] == 200
    await client.aclose()
    assert server.connections == 2


async def test_a_kept_connection_closed_as_the_request_went_out_is_retried_once(serve: Serve) -> None:
    """The upstream's idle timeout and our request crossed: it never answered, so a new connection
    carries the request. A new connection closed unanswered is a failure, not retried."""

    async def answer(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        if len(server.requests) == 2:
            return False  # closed without a byte
        writer.write(ok())
        return True

    server = await serve(answer)
    client = Http1Client(server.url, {}, 5.0)
    assert (await post(client))[0] == 200
    assert (await post(client))[0] == 200
    await client.aclose()
    assert (server.connections, len(server.requests)) == (2, 3)

    mute = await serve(answering(b"", keep_open=False))
    client = Http1Client(mute.url, {}, 5.0)
    with pytest.raises(ConnectionClosed):
        await post(client)
    await client.aclose()
    assert mute.connections == 1


async def test_a_body_that_runs_to_the_connection_end(serve: Serve) -> None:
    server = await serve(
        answering(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nto the end", keep_open=False)
    )
    client = Http1Client(server.url, {}, 5.0)
    assert (await post(client))[2] == b"to the end"
    assert (await post(client))[2] == b"to the end"
    await client.aclose()
    assert server.connections == 2


async def test_chunked_pieces_arrive_as_they_are_sent(serve: Serve) -> None:
    release = asyncio.Event()

    async def answer(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        return True

    server = await serve(answer)
    client = Http1Client(server.url, {}, 5.0)
    async with client.post("/x", b"") as response:
        pieces = response.iter_chunks()
        assert await anext(pieces) == b"first"  # before the rest was even written
        release.set()
        assert b"".join([piece async for piece in pieces]) == b"second"
    assert (await post(client))[0] == 200
    await client.aclose()
    assert server.connections == 1


async def test_informational_answers_are_skipped(serve: Serve) -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n"
    server = await serve(answering(early + ok(b"real", **{"x-n": "1"})))
    client = Http1Client(server.url, {}, 5.0)
    status, headers, body = await post(client)
    await client.aclose()
    assert (status, body, headers["x-n"]) == (200, b"real", "1")
    assert "link" not in headers


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
async def test_compressed_bodies_are_decoded(serve: Serve, encoding: str, compress) -> None:  # type: ignore[no-untyped-def]
    text = b'{"answer": "' + b"x" * 5000 + b'"}'
    server = await serve(answering(ok(compress(text), **{"content-encoding": encoding})))
    client = Http1Client(server.url, {}, 5.0)
    assert (await post(client))[2] == text
    assert (await post(client))[2] == text
    await client.aclose()


async def test_a_compressed_body_in_small_pieces_is_read_whole(serve: Serve) -> None:
    """Pieces that decode to nothing yet (a gzip header alone) do not end the body."""
    text = b'{"answer": "' + b"y" * 3000 + b'"}'
    packed = gzip.compress(text)

    async def trickle(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n")
        for start in range(0, len(packed), 5):
            piece = packed[start : start + 5]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.001)
        writer.write(b"0\r\n\r\n")
        return True

    server = await serve(trickle)
    client = Http1Client(server.url, {}, 5.0)
    assert (await post(client))[2] == text
    await client.aclose()


async def test_an_encoding_it_cannot_decode_is_named(serve: Serve) -> None:
    server = await serve(answering(ok(b"\x0b\x01\x80", **{"content-encoding": "br"})))
    client = Http1Client(server.url, {}, 5.0)
    with pytest.raises(HttpProtocolError, match="'br'"):
        await post(client)
    await client.aclose()


async def test_a_corrupt_or_short_compressed_body_fails(serve: Serve) -> None:
    short = gzip.compress(b"a" * 1000)[:-12]
    server = await serve(
        answering(ok(short, **{"content-encoding": "gzip"}), ok(b"garbage", **{"content-encoding": "gzip"}))
    )
    client = Http1Client(server.url, {}, 5.0)
    with pytest.raises(HttpProtocolError, match="ends early"):
        await post(client)
    with pytest.raises(HttpProtocolError, match="corrupt"):
        await post(client)
    await client.aclose()


async def test_bytes_that_are_not_http_fail_clearly(serve: Serve) -> None:
    server = await serve(answering(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))
    client = Http1Client(server.url, {}, 5.0)
    with pytest.raises(HttpProtocolError, match="malformed HTTP"):
        await post(client)
    await client.aclose()


async def test_a_second_unasked_answer_is_not_read_as_this_ones_body(serve: Serve) -> None:
    server = await serve(answering(ok(b"mine") + ok(b"stray"), ok(b"next")))
    client = Http1Client(server.url, {}, 5.0)
    assert (await post(client))[2] == b"mine"
    assert (await post(client))[2] == b"next"
    await client.aclose()
    assert server.connections == 2  # the connection that carried the stray answer was dropped


async def test_headers_without_end_are_cut_off(serve: Serve) -> None:
    async def endless(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nx-pad: ")
        for _ in range(100):
            writer.write(b"a" * 1024)
            await writer.drain()
        await asyncio.sleep(1)
        return False

    server = await serve(endless)
    client = Http1Client(server.url, {}, 5.0)
    with pytest.raises(HttpProtocolError, match="headers exceed 65536 bytes"):
        await post(client)
    await client.aclose()


async def test_a_body_cut_short_delivers_what_came_then_fails(serve: Serve) -> None:
    async def answer(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
        return False

    server = await serve(answer)
    client = Http1Client(server.url, {}, 5.0)
    async with client.post("/x", b"") as response:
        pieces = response.iter_chunks()
        assert await anext(pieces) == b"partial"
        with pytest.raises(ConnectionClosed):
            await anext(pieces)
    await client.aclose()


async def test_a_silent_upstream_times_out(serve: Serve) -> None:
    async def never(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(30)
        return False

    server = await serve(never)
    client = Http1Client(server.url, {}, 0.2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError, match=r"no data from the upstream for 0\.2 s"):
        await post(client)
    assert asyncio.get_running_loop().time() - started < 2
    await client.aclose()


async def test_the_read_timeout_counts_from_each_wait_on_a_kept_connection(serve: Serve) -> None:
    """One timer a connection, moved along: a body that drips with gaps under the limit is read
    whole however long it takes, the next request on the connection gets the full limit again,
    and a gap over the limit still times out."""
    answers = iter([(0.15, 4), (0.15, 1), (0.6, 2)])  # (gap before each piece, pieces)

    async def dripping(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        gap, pieces = next(answers)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % pieces)
        for _ in range(pieces):
            await asyncio.sleep(gap)
            writer.write(b"x")
            await writer.drain()
        return True

    server = await serve(dripping)
    client = Http1Client(server.url, {}, 0.3)
    started = asyncio.get_running_loop().time()
    assert (await post(client))[2] == b"xxxx"
    assert asyncio.get_running_loop().time() - started > 0.5  # longer than the limit, in all
    await asyncio.sleep(0.2)
    assert (await post(client))[2] == b"x"  # the earlier wait's moment has passed: no matter
    with pytest.raises(TimeoutError, match=r"no data from the upstream for 0\.3 s"):
        await post(client)
    await client.aclose()
    assert server.connections == 1


async def test_a_refused_connection_is_an_os_error() -> None:
    client = Http1Client(f"http://127.0.0.1:{free_port()}", {}, 5.0)
    with pytest.raises(ConnectionRefusedError):
        await post(client)
    await client.aclose()


async def test_a_slow_reader_makes_the_server_wait(serve: Serve) -> None:
    """Unread body is not piled up in memory: the socket stops being read until the reader comes."""
    body = bytes(range(256)) * (32 * 1024)  # 8 MiB
    backed_up = asyncio.Event()

    async def answer(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(body))
        await asyncio.sleep(0.3)
        if writer.transport.get_write_buffer_size() > 0:
            backed_up.set()
        return True

    server = await serve(answer)
    client = Http1Client(server.url, {}, 5.0)
    async with client.post("/x", b"") as response:
        await asyncio.sleep(0.4)
        assert backed_up.is_set()
        assert await response.read() == body
    assert (await post(client))[0] == 200
    await client.aclose()
    assert server.connections == 1


async def test_at_most_limit_connections_and_the_rest_wait(serve: Serve) -> None:
    server = await serve(answering_after(0.05))
    client = Http1Client(server.url, {}, 5.0, limit=2)
    results = await asyncio.gather(*(post(client) for _ in range(6)))
    await client.aclose()
    assert [r[0] for r in results] == [200] * 6
    assert server.most_open == 2


async def test_an_abandoned_answer_gives_its_slot_back_and_its_connection_up(serve: Serve) -> None:
    async def slow(request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        if len(server.requests) == 1:
            await asyncio.sleep(1)
        writer.write(ok())
        return True

    server = await serve(slow)
    client = Http1Client(server.url, {}, 5.0, limit=1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await post(client)
    assert (await post(client))[0] == 200  # the slot came back
    await client.aclose()
    assert server.connections == 2  # the half-answered connection was not reused


async def test_an_answer_left_unread_is_not_reused(serve: Serve) -> None:
    unfinished = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n"
    server = await serve(answering(unfinished, ok()))
    client = Http1Client(server.url, {}, 5.0)
    async with client.post("/x", b"") as response:
        assert response.status == 200
    assert (await post(client))[2] == b"{}"
    await client.aclose()
    assert server.connections == 2


async def test_connections_idle_past_the_keepalive_are_closed(serve: Serve) -> None:
    server = await serve(answering_after(0.02))
    client = Http1Client(server.url, {}, 5.0, keepalive_s=0.1)
    await asyncio.gather(*(post(client) for _ in range(3)))  # a burst: three connections
    assert server.open_connections == 3
    for _ in range(5):  # steady traffic on one of them; the other two stay idle past the keepalive
        await asyncio.sleep(0.04)
        await post(client)
    for _ in range(50):
        if server.open_connections == 1:
            break
        await asyncio.sleep(0.01)
    assert server.open_connections == 1
    await client.aclose()


async def test_closing_the_client_closes_its_idle_connections(serve: Serve) -> None:
    server = await serve(answering(ok()))
    client = Http1Client(server.url, {}, 5.0)
    await post(client)
    assert server.open_connections == 1
    await client.aclose()
    for _ in range(50):
        if server.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert server.open_connections == 0


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"x-key": "sk-1\r\nx-injected: 1"}, "'x-key' header holds a line break"),
        ({"x-key": "sk-1\n"}, "line break"),
        ({"bad name": "v"}, "not a valid HTTP header name"),
    ],
)
def test_headers_that_would_split_the_request_are_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Http1Client("http://127.0.0.1:9", headers, 5.0)


@pytest.mark.parametrize(
    "url", ["ftp://host/v1", "http:///v1", "https://user:pw@host/v1", "http://host/v1?x=1"]
)
def test_base_urls_it_cannot_honour_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        Http1Client(url, {}, 5.0)


def test_only_get_and_post_are_sent() -> None:
    client = Http1Client("http://127.0.0.1:9", {}, 5.0)
    with pytest.raises(ValueError, match="HEAD"):
        client.request(b"HEAD", "/")
