"""Assistant sessions in the state store: the turns so far and the products mentioned."""

from __future__ import annotations

from typing import Any

from sluicegate.state.base import Document, StateStore


class SessionStore:
    def __init__(self, store: StateStore, keep_turns: int) -> None:
        self._store = store
        self._keep = keep_turns

    async def get(self, session_id: str) -> Document:
        return await self._store.read(self._key(session_id)) or {"turns": [], "summary": None, "entities": []}

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
                "turns": turns[-2 * self._keep :] if self._keep else [],
                "summary": current["summary"],
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

    async def delete(self, session_id: str) -> bool:
        existed = await self._store.read(self._key(session_id)) is not None
        await self._store.delete(self._key(session_id))
        return existed

    @staticmethod
    def _key(session_id: str) -> str:
        return f"session:{session_id}"
