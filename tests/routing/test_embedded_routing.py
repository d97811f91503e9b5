"""Routing on the embedded default, offline and for real: the deterministic classifier carries
a confident decision, the embedded model decides (held to one class by a grammar) when the
classifier is unsure, and the embedded model gives the validation verdict in its strict
contract. Which class or verdict a 135M model picks is not asserted: that it is one is."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

import pytest

from sluicegate.calltrace import CallTrace
from sluicegate.config.routing import RoutingConfig
from sluicegate.config.schema import embedded_default
from sluicegate.routing.classifier import ROUTE_CLASSES
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.types import CompletionRequest, Message

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the [local] extra"),
]


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    # Threshold 1.0: every decision the classifier makes alone is also put to the router role.
    default = embedded_default()
    config = default.model_copy(
        update={
            "state": default.state.model_copy(update={"backend": "memory"}),
            "routing": RoutingConfig(confidence_threshold=1.0),
        }
    )
    built = build_runtime(config)
    yield built
    await built.aclose()


async def test_the_router_model_decides_when_the_classifier_is_unsure(runtime: Runtime) -> None:
    router = runtime.pipeline.stages.router
    assert router is not None
    asked = CompletionRequest("auto", (Message("user", "hmm, thoughts on the ending?"),))
    decided = await router.decide(asked, CallTrace())
    assert decided.stage == "router_model", decided.reason
    assert decided.decision in ROUTE_CLASSES
    again = await router.decide(asked, CallTrace())
    assert again.stage == "cache"
    assert again.decision == decided.decision


async def test_the_embedded_validator_answers_in_its_contract(runtime: Runtime) -> None:
    validator = runtime.pipeline.stages.validator
    assert validator is not None
    verdict = await validator.validate("What is 2 + 2?", "2 + 2 is 4.", "", CallTrace())
    assert "role:validation" in verdict.checks
    assert isinstance(verdict.valid, bool)
