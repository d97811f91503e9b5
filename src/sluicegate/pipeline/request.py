"""The one request type every door hands to the orchestrator."""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.types import CompletionRequest


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, as the door saw them: the bearer key sent (if any), or a caller on this machine
    (the operator at `sluicegate chat`, the gateway's own components), who needs no key."""

    secret: str | None = None
    local: bool = False


@dataclass(frozen=True, slots=True)
class PipelineRequest:
    # `model` names the route asked for (a role or a provider/model id).
    completion: CompletionRequest
    endpoint: str
    caller: Caller = Caller()
    # Streamed from the provider as it comes; otherwise one upstream answer, still as frames.
    stream: bool = True
    # A conversation turn (the assistant): the completion holds only the new user message; the
    # session's history and the domain pack's prompt are added by the pipeline.
    session_id: str | None = None

    @property
    def model(self) -> str:
        return self.completion.model
