"""AUTHORIZE: who is calling, and whether they may use the route they ask for.

`auth.required`: true, every call needs a virtual key; false, a key is optional; auto (the
default), open until the first virtual key is created and closed from then on, revoking every key
included. A revoked key is refused in every mode, never served as an anonymous caller; a key that
is not ours is refused once auth is closed, and ignored while it is open (clients that must send
some key, as the official OpenAI client does, send a placeholder that names nobody).
"""

from __future__ import annotations

from sluicegate.errors import Forbidden, Unauthorized
from sluicegate.keys import KeyRing, VirtualKey


def closed(mode: bool | str, keys_exist: bool) -> bool:
    """Whether a caller without a valid key is refused: `auto` closes once any key exists."""
    return keys_exist if mode == "auto" else bool(mode)


class Gatekeeper:
    def __init__(self, mode: bool | str, keys: KeyRing) -> None:
        self.mode = mode
        self.keys = keys

    async def closed(self) -> bool:
        return closed(self.mode, await self.keys.ever_created())

    async def authenticate(self, secret: str | None) -> VirtualKey | None:
        """The caller's key; None for an anonymous caller while auth is open."""
        # A presented key is always looked up, so a revoked one is refused however recently it was
        # made or revoked; whether any key exists (auto mode) is asked only when none matched.
        key = await self.keys.lookup(secret) if secret is not None else None
        keys_exist = key is not None or await self.keys.ever_created()
        if key is not None and key.revoked:
            raise Unauthorized("This API key has been revoked.")
        if key is None and closed(self.mode, keys_exist):
            detail = "Invalid API key." if secret else "Missing API key: send Authorization: Bearer <key>."
            raise Unauthorized(detail)
        return key

    @staticmethod
    def authorize(key: VirtualKey | None, route: str) -> None:
        if key is not None and not key.allows(route):
            raise Forbidden(f"This key may not use the role '{route}'.")
