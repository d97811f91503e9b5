"""Conversation turns and `model: auto` (seed 001 §2.6): the assistant's and the router's
sections of `sluicegate.yaml`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sluicegate.config.base import Strict

# Domain packs that ship with sluicegate (ARCHITECTURE §2 `demo/`): the manga shop.
PackName = Literal["shop"]


class AssistantConfig(Strict):
    """The guarded shop assistant (POST /v1/assistant/sessions/{id}/messages)."""

    role: str | None = Field(
        default=None, description="Default: the 'assistant' role if configured, else 'reasoning'."
    )
    pack: PackName | None = Field(
        default="shop",
        description="The domain pack of conversation turns: its prompt, placeholders and post-stream "
        "checks; null: a plain guarded conversation.",
    )
    facts_url: str | None = Field(
        default=None, description="A catalog service; default: the bundled demo catalog."
    )
    routing: bool = Field(
        default=True,
        description="Turns are `model: auto` (a tool answers a look-up alone); false: the "
        "conversation role answers every turn.",
    )
    price_mismatch: Literal["replace", "strip"] = "replace"
    history_turns: Annotated[int, Field(ge=0)] = 20
    context_listings: Annotated[int, Field(ge=0, le=20)] = 5
    max_tokens: Annotated[int, Field(ge=1)] = 400


RouteClassName = Literal["simple_tool_call", "reasoning_required", "coding_required", "router_can_handle"]


class RoutingConfig(Strict):
    """`model: auto` (seed 001 §2.6): the routing decision, model selection and validation."""

    enabled: bool = Field(default=True, description="Serve `model: auto`; false: it is refused.")
    confidence_threshold: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.6, description="Below it, the `router` role decides instead of the classifier."
    )
    router_fallback: bool = Field(default=True, description="Ask the `router` role below the threshold.")
    cache_ttl_s: Annotated[float, Field(ge=0)] = 600.0
    cache_size: Annotated[int, Field(ge=0)] = 10_000
    large_context_tokens: Annotated[int, Field(ge=1)] = Field(
        default=20_000, description="Code context above this goes to coding_large_context (seed 001 §2.3)."
    )
    validation: bool = Field(default=True, description="Validate routed answers before they ship.")
    skip_validation_for: list[RouteClassName] = Field(
        default_factory=lambda: list[RouteClassName](["router_can_handle"]),
        description="Low-risk classes whose answers are not validated (chit-chat, writing).",
    )
    max_validation_retries: Annotated[int, Field(ge=0, le=5)] = 2
    budget_tokens: Annotated[int, Field(ge=1)] = Field(
        default=4000, description="The token budget of one routing or validation workflow's model calls."
    )
    safe_answer: str = (
        "I'm sorry, I couldn't produce an answer I can stand behind. Please rephrase or ask a person."
    )
