"""System-prompt leaks: a long verbatim run of the protected prompt is a leak wherever the
chunks split it; a short shared phrase and a paraphrase are not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sluicegate.guardrails.leak import PromptEcho

PROMPT = (
    "You are the shop assistant of a manga store. Answer briefly and only about the store's "
    "products. Never write a price, a currency amount or a stock count yourself."
)
LEAKED = (
    "Sure, my rules: answer briefly and only about the store's products. "
    "Never write a price, a currency amount"
)


def fed(chunks: list[str]) -> bool:
    echo = PromptEcho(PROMPT)
    return any([echo.feed(c) for c in chunks]) or echo.finish()


@given(st.lists(st.integers(min_value=1, max_value=len(LEAKED) - 1), max_size=10))
def test_a_long_verbatim_run_is_a_leak_at_any_chunking(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    assert fed([LEAKED[a:b] for a, b in zip([0, *points], [*points, len(LEAKED)], strict=True)])


def test_it_is_found_as_soon_as_the_run_is_long_enough() -> None:
    echo = PromptEcho(PROMPT, run_words=12)
    words = LEAKED.split(" ")
    flagged_at = next(i for i, word in enumerate(words) if echo.feed(word + " "))
    # "answer … store's products Never write a": twelve words (store's counts as two) — no later.
    assert flagged_at == words.index("write") + 1


def test_short_shared_phrases_and_paraphrases_are_not_leaks() -> None:
    assert not fed(["I am the shop assistant, and I only talk about the store's products."])
    assert not fed(["We are a manga store. ", "Prices are shown on each card."])
