"""Stage 2, MODEL_SELECTION (seed 001 §2.3, §2.6): the role that answers, from the request's
class, how deep the reasoning it asks for runs, whether it carries or asks for code, and how
much context it brings. A role the configuration lacks falls back along a declared order."""

from __future__ import annotations

import re
from collections.abc import Callable

from sluicegate.routing.classifier import RouteClass
from sluicegate.routing.signals import signals
from sluicegate.token_estimate import estimate_text_tokens
from sluicegate.types import CompletionRequest

# Seed 001 §2.6: reasoning depth above 7 (of 10) goes to the reasoning role.
DEEP_REASONING = 7
_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_STEPS = re.compile(r"\b(?:step by step|prove|derive|justify|explain why|compare|trade-?offs?|plan)\b", re.I)

# Where a role that is not configured hands over.
FALLBACK: dict[str, tuple[str, ...]] = {
    "coding_large_context": ("coding", "reasoning"),
    "coding": ("reasoning",),
    "router": ("reasoning",),
    "reasoning": (),
}


def reasoning_depth(text: str) -> int:
    """0-10: how much thinking the message asks for — maths and science signals, several numbers,
    explicit steps or proof, several questions at once, length."""
    found = set(signals(text))
    depth = 0
    depth += 3 if "sig:math_words" in found else 0
    depth += 2 if "sig:math_expr" in found else 0
    depth += 2 if "sig:many_numbers" in found else 0
    depth += 2 if _STEPS.search(text) else 0
    depth += 1 if text.count("?") >= 2 else 0
    depth += 1 if "sig:long" in found else 0
    depth += 1 if "sig:arithmetic_words" in found else 0
    return min(depth, 10)


def code_context_tokens(request: CompletionRequest) -> int:
    """Tokens of code the request carries: fenced blocks, and whole messages that are code."""
    total = 0
    for message in request.messages:
        text = message.content
        fenced = _CODE_FENCE.findall(text)
        if fenced:
            total += sum(estimate_text_tokens(block) for block in fenced)
        elif "sig:code_block" in signals(text):
            total += estimate_text_tokens(text)
    return total


def select_role(
    decision: RouteClass, request: CompletionRequest, *, configured: Callable[[str], bool], large_context: int
) -> tuple[str, str]:
    """The role, and why (for the audit trail and the route label)."""
    text = request.messages[-1].content if request.messages else ""
    if decision == "coding_required":
        code = code_context_tokens(request)
        wanted, why = (
            ("coding_large_context", f"{code} tokens of code") if code > large_context else ("coding", "code")
        )
    elif decision == "reasoning_required":
        wanted, why = "reasoning", "reasoning required"
    else:
        depth = reasoning_depth(text)
        wanted, why = (
            ("reasoning", f"depth {depth}") if depth > DEEP_REASONING else ("router", f"depth {depth}")
        )
    for role in (wanted, *FALLBACK.get(wanted, ())):
        if configured(role):
            return role, why if role == wanted else f"{why}; {wanted} not configured"
    return wanted, why  # resolving it names what is missing
