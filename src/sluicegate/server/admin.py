"""`/admin/*`: the operator's view of the running gateway."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.runtime import Runtime

router = APIRouter(prefix="/admin")


def circuits_view(runtime: Runtime) -> dict[str, Any]:
    stacks = runtime.chat.stacks()  # builds every role's stack, so every breaker is listed
    circuits = [
        {
            "target": s.target,
            "state": s.state.value,
            "recent_failures": s.recent_failures,
            "open_for_s": round(s.open_for_s, 3),
            "probes_in_flight": s.probes_in_flight,
        }
        for s in runtime.chat.breakers.snapshots()
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
    return Response(orjson.dumps(circuits_view(runtime)), media_type="application/json")
