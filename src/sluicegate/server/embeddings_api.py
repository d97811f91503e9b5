"""`POST /v1/embeddings`, OpenAI-compatible: parse, hand to the embeddings pipeline, render.

`encoding_format: base64` (the official client's default) is each vector's float32 values,
little-endian, in base64, as OpenAI sends them; the upstream hop always carries floats.
"""

from __future__ import annotations

import base64
import struct
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.pipeline.embeddings import EmbeddingCall
from sluicegate.pipeline.request import Caller
from sluicegate.server.auth import bearer
from sluicegate.server.body import read_body
from sluicegate.server.context import request_context, route_headers
from sluicegate.server.schemas import error_responses
from sluicegate.server.wire_messages import whole_number
from sluicegate.types import EmbeddingInput, EmbeddingRequest, Embeddings

router = APIRouter()
MAX_INPUTS = 2048  # OpenAI's limit on inputs per request
TokenIds = Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(min_length=1)]


class EmbeddingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(min_length=1, max_length=256)]
    input: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=MAX_INPUTS)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_INPUTS)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[StrictInt, Field(ge=1, le=65536)] | None = None
    user: Annotated[str, Field(max_length=256)] | None = None

    _whole = field_validator("input", "dimensions", mode="before")(staticmethod(whole_number))

    def inputs(self) -> tuple[EmbeddingInput, ...]:
        """Each input as the pipeline takes it: a text, or one tuple of token ids."""
        given = self.input
        if isinstance(given, str):
            return (given,)
        items: list[EmbeddingInput] = []
        tokens: list[int] = []
        for item in given:
            if isinstance(item, int):
                tokens.append(item)  # the whole input is one list of token ids
            else:
                items.append(item if isinstance(item, str) else tuple(item))
        return (tuple(tokens),) if tokens else tuple(items)


_BODY_SCHEMA = EmbeddingsBody.model_json_schema()
_REQUEST_SCHEMA = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}
}


@router.post(
    "/v1/embeddings",
    openapi_extra=_REQUEST_SCHEMA,
    response_model=None,
    responses=error_responses(400, 401, 403, 404, 408, 413, 415, 429, 503, 504),
)
async def embeddings(request: Request) -> Response:
    runtime = request.app.state.runtime
    body = await read_body(request, EmbeddingsBody)
    ctx = request_context(request)
    asked = EmbeddingRequest(body.model, body.inputs(), body.dimensions, body.user)
    try:
        result = await runtime.embeddings.run(
            EmbeddingCall(asked, "/v1/embeddings", Caller(secret=bearer(request))), ctx
        )
    finally:
        if ctx.role is not None:  # metrics label roles, never arbitrary names a client sent
            request.state.role = ctx.role
    return Response(
        orjson.dumps(_body(body, result)),
        media_type="application/json",
        headers=route_headers(ctx, body.model),
    )


def _body(body: EmbeddingsBody, result: Embeddings) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _encoded(vector, body.encoding_format)}
            for index, vector in enumerate(result.vectors)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": result.usage.prompt_tokens, "total_tokens": result.usage.prompt_tokens},
    }


def _encoded(vector: tuple[float, ...], encoding: str) -> list[float] | str:
    if encoding == "float":
        return list(vector)
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
