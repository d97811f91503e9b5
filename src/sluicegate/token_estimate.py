"""The documented token estimate, for where no tokenizer is at hand: one token per four
characters (at least one per word-ish run), plus four per message and three that prime the
reply. It errs high, which is the safe side for budgets."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from sluicegate.types import CompletionRequest, Message

MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3


def estimate_text_tokens(text: str) -> int:
    if not text:
        return 0
    return max(math.ceil(len(text) / 4), len(text.split()))


def estimate_message_tokens(messages: Sequence[Message]) -> int:
    return sum(MESSAGE_OVERHEAD + estimate_text_tokens(m.content) for m in messages) + REPLY_PRIMING


def estimate_tool_tokens(request: CompletionRequest) -> int:
    """What a request's tools cost beyond its messages' text: the tool definitions (their JSON, as
    providers put them in the prompt) and the calls and call ids in its transcript."""
    if not request.tools and not any(m.tool_calls or m.tool_call_id for m in request.messages):
        return 0
    definitions = sum(
        estimate_text_tokens(f"{t.name} {t.description or ''} {json.dumps(t.parameters)}")
        for t in request.tools
    )
    calls = sum(
        estimate_text_tokens(f"{c.id} {c.name} {c.arguments}") for m in request.messages for c in m.tool_calls
    )
    answers = sum(estimate_text_tokens(m.tool_call_id or "") for m in request.messages)
    return definitions + calls + answers


# What an image costs in the prompt, without its size at hand: OpenAI's figure for `detail: low`
# (85) and for a 1024x1024 image at high detail (765); Anthropic's (width x height / 750) comes to
# about 1,400 for a 1024x1024 image, so `auto` and `high` reserve that, the higher.
IMAGE_TOKENS_LOW = 85
IMAGE_TOKENS = 1400


def estimate_image_tokens(messages: Sequence[Message]) -> int:
    return sum(
        IMAGE_TOKENS_LOW if image.detail == "low" else IMAGE_TOKENS for m in messages for image in m.images
    )
