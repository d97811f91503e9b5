"""The request context the observing middleware made for this HTTP request (its trace id, span
and call record), as the pipeline's doors hand it to the orchestrator."""

from __future__ import annotations

from starlette.requests import Request

from sluicegate.pipeline.context import RequestContext

SCOPE_KEY = "sluicegate_context"


def request_context(request: Request) -> RequestContext:
    context: RequestContext = request.scope[SCOPE_KEY]
    return context


def route_headers(ctx: RequestContext, asked: str) -> dict[str, str]:
    """The route the pipeline took and the cache's answer, as response headers."""
    headers = {"x-sluicegate-route": ctx.route_label or f"explicit/{asked}"}
    if ctx.cache is not None:
        headers["x-sluicegate-cache"] = ctx.cache
    return headers
