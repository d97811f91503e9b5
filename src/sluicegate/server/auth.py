"""Who is calling. `auth.required`: true, every API call needs `Authorization: Bearer <key>`;
false, a key is optional; auto (the default), open until the first virtual key is created and
closed from then on, revoking every key included. A revoked key is refused in every mode, never
served as an anonymous caller; a key that is not ours is refused once auth is closed. `/admin/*`
needs the admin key from `auth.admin_key_env`, and is open without one only while auth is open."""

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


def closed(mode: bool | str, keys_exist: bool) -> bool:
    """Whether a caller without a valid key is refused: `auto` closes once any key exists."""
    return keys_exist if mode == "auto" else bool(mode)


async def auth_closed(runtime: Runtime) -> bool:
    return closed(runtime.config.auth.required, await runtime.keys.ever_created())


async def require_key(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    secret = _bearer(request)
    keys_exist = await runtime.keys.ever_created()
    # With no key in existence none can match or be revoked: no lookup, one read of the store.
    key = await runtime.keys.lookup(secret) if secret is not None and keys_exist else None
    if key is not None and key.revoked:
        raise Unauthorized("This API key has been revoked.")
    if key is None:
        if closed(runtime.config.auth.required, keys_exist):
            detail = "Invalid API key." if secret else "Missing API key: send Authorization: Bearer <key>."
            raise Unauthorized(detail)
        # Open: served anonymously. Clients that must send some key (the official OpenAI client
        # does) send a placeholder, which is not ours and names nobody.
        return
    trace = current_trace()
    trace.user = key.user
    trace.key_budget = key.tokens_per_hour
    request.state.key = key


def caller_user(request: Request) -> str | None:
    """The user of the caller's virtual key; None for an anonymous caller (auth open)."""
    key: VirtualKey | None = getattr(request.state, "key", None)
    return key.user if key is not None else None


def check_role(request: Request, role: str) -> None:
    key: VirtualKey | None = getattr(request.state, "key", None)
    if key is not None and not key.allows(role):
        raise Forbidden(f"This key may not use the role '{role}'.")


async def require_admin(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    variable = runtime.config.auth.admin_key_env
    expected = os.environ.get(variable) if variable else None
    if not expected:
        if await auth_closed(runtime):
            raise Unauthorized("The admin API is closed: no admin key is configured (auth.admin_key_env).")
        return
    given = _bearer(request) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("Missing or wrong admin key.")
