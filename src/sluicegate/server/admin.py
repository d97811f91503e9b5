"""`/admin/*`: the operator's view of the running gateway."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.errors import SessionNotFound
from sluicegate.runtime import Runtime
from sluicegate.server.assistant_api import SESSION_ID
from sluicegate.server.auth import require_admin
from sluicegate.server.schemas import Open, error_responses

router = APIRouter(
    prefix="/admin",
    dependencies=[Depends(require_admin)],
    responses={200: {"model": Open}, **error_responses(400, 401)},
)


async def circuits_view(runtime: Runtime) -> dict[str, Any]:
    stacks = runtime.stacks.stacks()  # builds every role's stack, so every breaker is listed
    snapshots = await runtime.stacks.breakers.snapshots()
    circuits = [
        {
            "target": s.target,
            "state": s.state.value,
            "recent_failures": s.recent_failures,
            "open_for_s": round(s.open_for_s, 3),
            "probes_in_flight": s.probes_in_flight,
        }
        for s in snapshots
    ]
    roles = {
        name: {
            "in_flight": stack.limiter.in_flight,
            "queued": stack.limiter.waiting,
            "max_concurrency": stack.limiter.max_concurrency,
        }
        for name, stack in stacks.items()
    }
    return {"circuits": circuits, "roles": roles}


@router.get("/circuits")
async def circuits(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return Response(orjson.dumps(await circuits_view(runtime)), media_type="application/json")


@router.get("/events")
async def events(
    request: Request,
    trace_id: str | None = None,
    type: str | None = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    newest_first: bool = False,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    store = runtime.audit.store
    if store is None:
        return Response(
            orjson.dumps({"events": [], "note": "audit is disabled"}), media_type="application/json"
        )
    await runtime.audit.flush()
    found = await store.query(
        trace_id=trace_id, type=type, after_id=after_id, limit=limit, newest_first=newest_first
    )
    body = {"events": [{"id": item.id, **item.event.model_dump(mode="json")} for item in found]}
    return Response(orjson.dumps(body), media_type="application/json")


async def budgets_view(runtime: Runtime) -> list[dict[str, Any]]:
    """Every user with a budget or recent usage: used, reserved and remaining in the window."""
    limits = {key.user: key.tokens_per_hour for key in await runtime.keys.list() if not key.revoked}
    default = runtime.config.budgets.tokens_per_hour_per_user
    users = sorted(set(limits) | set(await runtime.ledger.users()))
    rows = []
    for user in users:
        usage = await runtime.ledger.usage(user, limits.get(user) or default)
        rows.append(
            {
                "user": user,
                "used": usage.used,
                "reserved": usage.reserved,
                "limit": usage.limit,
                "remaining": usage.remaining,
                "window_s": runtime.ledger.window_s,
            }
        )
    return rows


@router.get("/budgets")
async def budgets(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return Response(orjson.dumps({"budgets": await budgets_view(runtime)}), media_type="application/json")


@router.get("/sessions/{session_id}", response_model=None, responses={**error_responses(404)})
async def any_session(
    request: Request, session_id: Annotated[str, PathParam(pattern=SESSION_ID)]
) -> Response:
    """Any user's assistant session, with its owner: the operator's read."""
    runtime: Runtime = request.app.state.runtime
    doc = await runtime.sessions.read_any(session_id)
    if doc is None:
        raise SessionNotFound(f"No session '{session_id}'.")
    return Response(orjson.dumps(doc), media_type="application/json")
