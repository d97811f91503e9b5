"""Assistant sessions in the state store: the turns so far and the products mentioned, and the
user whose key created the session (its owner; None when auth is off)."""

from __future__ import annotations

import secrets
from typing import Any

from sluicegate.state.base import Document, StateStore


class SessionStore:
    def __init__(self, store: StateStore, keep_turns: int) -> None:
        self._store = store
        self._keep = keep_turns

    async def get(self, session_id: str) -> Document:
        return await self._store.read(self._key(session_id)) or {"turns": [], "summary": None, "entities": []}

    @staticmethod
    def new_id() -> str:
        """An id nobody can guess (144 random bits): with auth off, the only protection a session has."""
        return secrets.token_urlsafe(18)

    async def claim(self, session_id: str, owner: str | None) -> bool:
        """Create the session for `owner`, or confirm that it is theirs; False if it is another's.

        A write, on purpose: it happens before a model is asked, so a store that cannot write
        (a full disk) refuses the turn before anything is spent.
        """

        def change(doc: Document | None) -> tuple[Document, bool]:
            if doc is None:
                return {"turns": [], "summary": None, "entities": [], "owner": owner}, True
            return doc, doc.get("owner") == owner

        return await self._store.update(self._key(session_id), change)

    async def read_any(self, session_id: str) -> Document | None:
        """The session with its owner, whoever that is (the admin API)."""
        return await self._store.read(self._key(session_id))

    async def owned(self, session_id: str, owner: str | None) -> Document | None:
        """The session if it exists and is `owner`'s (without the owner field), else None."""
        doc = await self._store.read(self._key(session_id))
        if doc is None or doc.get("owner") != owner:
            return None
        return {k: v for k, v in doc.items() if k != "owner"}

    async def append(self, session_id: str, user: str, assistant: str, entities: list[str]) -> None:
        def change(doc: Document | None) -> tuple[Document, None]:
            current: dict[str, Any] = doc or {"turns": [], "summary": None, "entities": []}
            turns = [
                *current["turns"],
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
            ]
            known = list(dict.fromkeys([*current["entities"], *entities]))
            return {
                **current,
                "turns": turns[-2 * self._keep :] if self._keep else [],
                "entities": known,
            }, None

        await self._store.update(self._key(session_id), change)

    async def sample_for_review(self, listings: list[dict[str, Any]], keep: int = 500) -> None:
        """Add listings to the human-review sample (the newest `keep`, each listing once)."""

        def change(doc: Document | None) -> tuple[Document, None]:
            known = {item["id"]: item for item in (doc or {}).get("listings", [])}
            for item in listings:
                known.setdefault(item["id"], item)
            return {"listings": list(known.values())[-keep:]}, None

        await self._store.update("review:new_sellers", change)

    async def review_sample(self) -> list[dict[str, Any]]:
        doc = await self._store.read("review:new_sellers")
        return list(doc["listings"]) if doc else []

    async def delete(self, session_id: str, owner: str | None) -> bool:
        """Erase `owner`'s session; False (nothing erased) if there is none of theirs."""
        if await self.owned(session_id, owner) is None:
            return False
        await self._store.delete(self._key(session_id))
        return True

    @staticmethod
    def _key(session_id: str) -> str:
        return f"session:{session_id}"
