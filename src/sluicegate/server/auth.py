"""Who is calling, for the endpoints outside the pipeline (models, sessions, admin); the pipeline's
doors hand the bearer key to the orchestrator, whose AUTHORIZE stage applies the same rules
(`pipeline.auth`). `/admin/*` needs the admin key from `auth.admin_key_env`, and is open without
one only while auth is open."""

from __future__ import annotations

import hmac
import os

from starlette.requests import Request

from sluicegate.errors import Unauthorized
from sluicegate.keys import VirtualKey
from sluicegate.runtime import Runtime


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def require_key(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    key = await runtime.gatekeeper.authenticate(bearer(request))
    if key is not None:
        request.state.key = key


def caller_user(request: Request) -> str | None:
    """The user of the caller's virtual key; None for an anonymous caller (auth open)."""
    key: VirtualKey | None = getattr(request.state, "key", None)
    return key.user if key is not None else None


async def require_admin(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    variable = runtime.config.auth.admin_key_env
    expected = os.environ.get(variable) if variable else None
    if not expected:
        if await runtime.gatekeeper.closed():
            raise Unauthorized("The admin API is closed: no admin key is configured (auth.admin_key_env).")
        return
    given = bearer(request) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("Missing or wrong admin key.")
