"""What the API documents about its answers (OpenAPI), so clients and fuzzers know every status
it may return and the shape of each body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Open(BaseModel):
    """A JSON object whose full shape is OpenAI's; we document that it is an object."""

    model_config = ConfigDict(extra="allow")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Malformed JSON, invalid UTF-8, or a missing or invalid field (named in the message)",
        401: "No or a bad API key",
        403: "Refused by policy, or a Host or Origin that is not allowed",
        404: "Unknown model, or no such session for this key",
        408: "The request body did not arrive within server.body_timeout_s",
        413: "Request body over the size limit",
        415: "The body is not sent as Content-Type: application/json",
        429: "Budget or role capacity exceeded (see Retry-After)",
        503: "Every provider failed (each attempt listed)",
        504: "No answer within the role's timeout",
    }
    return {status: {"model": ErrorBody, "description": descriptions[status]} for status in statuses}


CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Open,
        "description": "A chat completion; with stream=true, a text/event-stream of chunks ending in [DONE]",
        "content": {"text/event-stream": {"schema": {}}},
    },
    **error_responses(400, 401, 403, 404, 408, 413, 415, 429, 503, 504),
}
