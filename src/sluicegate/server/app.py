"""The FastAPI application: built around a `Runtime`, so tests can hand it any providers."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from sluicegate import __version__
from sluicegate.observability.metrics import STATE_VALUE
from sluicegate.runtime import Runtime
from sluicegate.server.admin import router as admin_router
from sluicegate.server.assistant_api import router as assistant_router
from sluicegate.server.embeddings_api import router as embeddings_router
from sluicegate.server.errors import install_error_handlers
from sluicegate.server.generate_api import router as generate_router
from sluicegate.server.guard import RequestGuard
from sluicegate.server.hot_routes import GatewayApp, Wrap
from sluicegate.server.openai_api import chat_route, request_components
from sluicegate.server.openai_api import router as openai_router
from sluicegate.server.pages import router as pages_router
from sluicegate.server.pages import static as static_pages
from sluicegate.server.routing_api import router as routing_router
from sluicegate.server.schemas import Open
from sluicegate.server.tracing import ObservedRequestMiddleware

log = logging.getLogger("sluicegate.server")
GC_YOUNG_THRESHOLD = 10_000


def create_app(runtime: Runtime, *, warm: bool = True, settle_gc: bool = False) -> FastAPI:
    """`settle_gc`: the app is the process's one (`serve` and its workers), so once started the
    collector is settled for it (`settle_garbage_collector`). Not for apps made and dropped one
    after another in one process (tests): frozen objects are never collected."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = asyncio.Event()
        app.state.warm_error = None
        task = asyncio.create_task(_warm(app, runtime, enabled=warm, settle_gc=settle_gc))
        try:
            yield
        finally:
            task.cancel()
            await runtime.aclose()

    app = GatewayApp(
        title="sluicegate", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None
    )
    app.state.runtime = runtime
    # Outermost first: the observer gives every answer a trace id; CORS answers preflights for the
    # origins allowed; the guard refuses foreign hosts and origins before any work.
    middlewares: list[Wrap] = [ObservedRequestMiddleware]
    if runtime.config.server.cors_allow_origins:
        middlewares.append(
            partial(
                CORSMiddleware,
                allow_origins=runtime.config.server.cors_allow_origins,
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["authorization", "content-type"],
                expose_headers=["x-sluicegate-trace-id", "x-sluicegate-route", "x-sluicegate-cache"],
            )
        )
    middlewares.append(partial(RequestGuard, settings=runtime.config.server))
    for middleware in reversed(middlewares):
        app.add_middleware(middleware)
    install_error_handlers(app)
    app.include_router(openai_router)
    app.include_router(embeddings_router)
    app.include_router(routing_router)
    app.include_router(generate_router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(request_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(admin_router)
    app.include_router(assistant_router)
    app.include_router(pages_router)
    app.mount("/static", static_pages, name="static")
    app.serve_directly(chat_route, middlewares)

    @app.get("/metrics", responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics(request: Request) -> Response:
        current: Runtime = request.app.state.runtime
        for name, stack in current.stacks.stacks().items():
            current.metrics.in_flight.labels(name).set(stack.limiter.in_flight)
            current.metrics.queue_depth.labels(name).set(stack.limiter.waiting)
        # Breakers live in the shared store: report their state as every instance sees it now.
        for snapshot in await current.stacks.breakers.snapshots():
            current.metrics.circuit_state.labels(snapshot.target).set(STATE_VALUE[snapshot.state])
        return Response(current.metrics.render(), media_type=current.metrics.content_type)

    @app.get("/healthz", responses={200: {"model": Open}})
    async def healthz() -> Response:
        return Response(orjson.dumps({"status": "ok"}), media_type="application/json")

    @app.get(
        "/readyz", responses={200: {"model": Open}, 503: {"model": Open, "description": "Still starting"}}
    )
    async def readyz(request: Request) -> Response:
        return _readiness(request)

    return app


def _readiness(request: Request) -> Response:
    ready = getattr(request.app.state, "ready", None)
    if ready is None or not ready.is_set():
        return _json({"status": "starting"}, 503)
    current: Runtime = request.app.state.runtime
    workers = current.worker_states()
    if not all(status.serving for status in workers.values()):
        # A model worker is restarting or crash-looping: the roles it serves cannot answer.
        states = {name: {"state": status.state, "error": status.error} for name, status in workers.items()}
        return _json({"status": "degraded", "workers": states}, 503)
    failure = getattr(request.app.state, "warm_error", None)
    # A model worker's failed warm-up is told by its state above, which recovers on restart.
    if failure is not None and not workers:
        return _json({"status": "failed", "reason": failure}, 503)
    return _json({"status": "ready"}, 200)


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _warm(app: FastAPI, runtime: Runtime, *, enabled: bool, settle_gc: bool) -> None:
    if enabled:
        try:
            await runtime.warm()
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and the log
            app.state.warm_error = str(exc)
            log.error("warm-up failed: %s", exc)
    if settle_gc:
        settle_garbage_collector()
    app.state.ready.set()


def settle_garbage_collector() -> None:
    """Once started: what the process built to start (modules, the app, the catalog) is moved out
    of the collector's sight, and the youngest generation is collected less often. A request
    allocates thousands of short-lived objects that reference counting frees; at the default
    threshold (700) the collector walked the young generation several times a request, and every
    full collection walked the whole startup heap (about 3 % of a request's instructions)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
