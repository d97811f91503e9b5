"""Who is calling. With any virtual key in existence (or `auth.required`), every API call needs
`Authorization: Bearer <key>`; `/admin/*` needs the admin key from `auth.admin_key_env`."""

from __future__ import annotations

import hmac
import os

from starlette.requests import Request

from sluicegate.calltrace import current_trace
from sluicegate.errors import Forbidden, Unauthorized
from sluicegate.keys import VirtualKey
from sluicegate.runtime import Runtime


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def require_key(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    secret = _bearer(request)
    required = runtime.config.auth.required or await runtime.keys.any_active()
    if not required:
        return
    if secret is None:
        raise Unauthorized("Missing API key: send Authorization: Bearer <key>.")
    key = await runtime.keys.authenticate(secret)
    if key is None:
        raise Unauthorized("Invalid or revoked API key.")
    trace = current_trace()
    trace.user = key.user
    trace.key_budget = key.tokens_per_hour
    request.state.key = key


def check_role(request: Request, role: str) -> None:
    key: VirtualKey | None = getattr(request.state, "key", None)
    if key is not None and not key.allows(role):
        raise Forbidden(f"This key may not use the role '{role}'.")


async def require_admin(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    variable = runtime.config.auth.admin_key_env
    expected = os.environ.get(variable) if variable else None
    if not expected:
        if runtime.config.auth.required or await runtime.keys.any_active():
            raise Unauthorized("The admin API is closed: no admin key is configured (auth.admin_key_env).")
        return
    given = _bearer(request) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("Missing or wrong admin key.")
