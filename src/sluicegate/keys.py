"""Virtual API keys: shown once at creation, stored only as a SHA-256 hash, revocable, each
bound to a user with an optional hourly token budget and an optional list of roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sluicegate.state.base import Document, StateStore

KEY_PREFIX = "sk-sg-"


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class VirtualKey:
    key_id: str  # the first 12 hex digits of the hash: names the key without revealing it
    user: str
    tokens_per_hour: int | None
    roles: tuple[str, ...] | None
    created: float
    revoked: bool

    def allows(self, role: str) -> bool:
        return self.roles is None or role in self.roles

    @classmethod
    def from_doc(cls, digest: str, doc: Document) -> VirtualKey:
        roles = doc.get("roles")
        return cls(
            digest[:12],
            doc["user"],
            doc.get("tokens_per_hour"),
            tuple(roles) if roles is not None else None,
            doc["created"],
            bool(doc.get("revoked")),
        )


# How long "no key was ever created" is taken as still true before the store is asked again.
NO_KEYS_FRESH_S = 1.0


class KeyRing:
    def __init__(self, store: StateStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._ever_created = False
        self._none_until = 0.0  # (clock) until when "none yet" is taken as still true

    async def create(
        self, user: str, tokens_per_hour: int | None = None, roles: list[str] | None = None
    ) -> tuple[str, VirtualKey]:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = key_hash(secret)
        doc = {
            "user": user,
            "tokens_per_hour": tokens_per_hour,
            "roles": roles,
            "created": time.time(),
            "revoked": False,
            "hash": digest,
        }
        await self.store.update(f"key:{digest}", lambda _: (doc, None))
        await self.store.update(
            "keys:meta", lambda meta: ({"active": (meta or {}).get("active", 0) + 1}, None)
        )
        self._ever_created = True
        return secret, VirtualKey.from_doc(digest, doc)

    async def authenticate(self, secret: str) -> VirtualKey | None:
        """The key if it is ours and not revoked."""
        key = await self.lookup(secret)
        return key if key is not None and not key.revoked else None

    async def lookup(self, secret: str) -> VirtualKey | None:
        """The key if it is ours, revoked or not (a revoked key must be refused, never ignored)."""
        digest = key_hash(secret)
        doc = await self.store.read(f"key:{digest}")
        # The lookup is by hash; the comparison is constant-time all the same.
        if doc is None or not hmac.compare_digest(str(doc.get("hash", "")), digest):
            return None
        self._ever_created = True
        return VirtualKey.from_doc(digest, doc)

    async def any_active(self) -> bool:
        meta = await self.store.read("keys:meta")
        return bool(meta and meta.get("active", 0) > 0)

    async def ever_created(self) -> bool:
        """True once any key has been created, revoked or not: what closes auth in `auto` mode.
        (The counter document is written by the first creation and never deleted, so a True is
        kept.) A False is asked again at most every `NO_KEYS_FRESH_S`: it was a store read on every
        anonymous request, and under load the slowest one there (the loop waits for the GIL
        after SQLite's read, while the state writer holds it). A key created or presented here
        closes auth here at once; one created by another instance or `sluicegate keys create`
        closes it to anonymous callers within that second. (Presented keys are always looked
        up: a revoked one is refused at once.)"""
        if self._ever_created:
            return True
        now = self._clock()
        if now < self._none_until:
            return False
        self._ever_created = await self.store.read("keys:meta") is not None
        self._none_until = now + NO_KEYS_FRESH_S
        return self._ever_created

    async def list(self) -> list[VirtualKey]:
        found = await self.store.scan("key:")
        return sorted((VirtualKey.from_doc(doc["hash"], doc) for _, doc in found), key=lambda k: k.created)

    async def revoke(self, key_id: str) -> VirtualKey | None:
        """Revoke the key whose id (or a longer prefix of its hash) is given."""
        matches = [(name, doc) for name, doc in await self.store.scan(f"key:{key_id}") if len(key_id) >= 6]
        if len(matches) != 1:
            return None
        name, doc = matches[0]

        def change(current: Document | None) -> tuple[Document | None, bool]:
            if current is None or current.get("revoked"):
                return current, False
            return {**current, "revoked": True}, True

        if await self.store.update(name, change):
            await self.store.update(
                "keys:meta", lambda meta: ({"active": max(0, (meta or {}).get("active", 1) - 1)}, None)
            )
        return VirtualKey.from_doc(doc["hash"], {**doc, "revoked": True})
