"""Conversation memory: sessions owned by their key's user, their turns and entities."""
