"""What every configuration section shares: strictness (unknown keys are errors), and the breaker
settings that both the top level and each provider carry."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CircuitBreakerConfig(Strict):
    failure_threshold: Annotated[int, Field(ge=1)] = 3
    window_s: Annotated[float, Field(gt=0)] = 60.0
    reset_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    half_open_max: Annotated[int, Field(ge=1)] = 1
