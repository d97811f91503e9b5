"""Frames as server-sent events (ARCHITECTURE §4): `event: NAME` and the frame's JSON `data`,
for the doors that stream frames (the assistant, structured generation). A failure after the
stream has begun is an `error` frame, never a cut."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace

import orjson
from starlette.responses import StreamingResponse

from sluicegate.errors import FenceViolation, GatewayError, StateError
from sluicegate.frames import error_frame, frame_data
from sluicegate.types import AcceptedFrame, Frame, TokenFrame

log = logging.getLogger("sluicegate.server")


async def sse(first: Frame, frames: AsyncGenerator[Frame, None]) -> AsyncIterator[bytes]:
    answered = False
    try:
        frame: Frame | None = first
        while frame is not None:
            answered = answered or isinstance(frame, TokenFrame)
            if not isinstance(frame, AcceptedFrame):  # a signal for this door, not for clients
                yield sse_event(frame)
            frame = await anext(frames, None)
    except (GatewayError, StateError, FenceViolation) as exc:
        # The stream has begun (a role that is not configured, a budget not reserved, a session
        # that could not be saved): the refusal is a frame.
        if isinstance(exc, StateError):
            log.error("state store failed mid-stream: %s", exc)
        failure = error_frame(exc)
        if answered and isinstance(exc, StateError):
            # The model has answered and its tokens were counted: "nothing was spent" would be false.
            message = f"The answer above could not be saved ({exc}); its tokens were spent."
            failure = replace(failure, message=message)
        yield sse_event(failure)
    finally:
        await frames.aclose()


def sse_event(frame: Frame) -> bytes:
    return b"event: " + frame.event.encode() + b"\ndata: " + orjson.dumps(frame_data(frame)) + b"\n\n"


async def sse_response(frames: AsyncGenerator[Frame, None]) -> StreamingResponse:
    """The frames as an SSE response. The first frame is awaited here: until the pipeline accepts
    the request (key, role, session), a refusal is a status code, not a stream."""
    try:
        first = await anext(frames)
    except BaseException:
        await frames.aclose()
        raise
    return StreamingResponse(
        sse(first, frames), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )
