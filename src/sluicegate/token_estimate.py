"""The documented token estimate, for where no tokenizer is at hand: one token per four
characters (at least one per word-ish run), plus four per message and three that prime the
reply. It errs high, which is the safe side for budgets."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sluicegate.types import Message

MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3


def estimate_text_tokens(text: str) -> int:
    if not text:
        return 0
    return max(math.ceil(len(text) / 4), len(text.split()))


def estimate_message_tokens(messages: Sequence[Message]) -> int:
    return sum(MESSAGE_OVERHEAD + estimate_text_tokens(m.content) for m in messages) + REPLY_PRIMING
