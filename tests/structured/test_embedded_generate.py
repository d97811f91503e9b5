"""Structured generation on the embedded model, offline and for real: the llama.cpp grammar built
from the closed union's JSON schema makes SmolLM2 write a remediation plan that validates (what
it says is a 135M model's; that it is one of the three shapes is the grammar's)."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

import pytest

from sluicegate.config.schema import embedded_default
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.request import Caller
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.structured.schemas import schema_named
from sluicegate.structured.workflow import StructuredRequest, StructuredWorkflow, fitted
from sluicegate.types import CompleteFrame, Frame

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the [local] extra"),
]


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    default = embedded_default()
    built = build_runtime(
        default.model_copy(update={"state": default.state.model_copy(update={"backend": "memory"})})
    )
    yield built
    await built.aclose()


async def generated(runtime: Runtime, schema: str, text: str, max_tokens: int) -> list[Frame]:
    """The workflow as the door asks it of the embedded default (the grammar, the compact schema)."""
    asked = StructuredRequest(
        schema_named(schema), text, "reasoning", Caller(local=True), max_tokens=max_tokens
    )
    asked = fitted(asked, runtime.stacks.resolve("reasoning"))
    ctx = RequestContext()
    token = bind(ctx)
    try:
        workflow = StructuredWorkflow(
            runtime.pipeline, has_role=runtime.stacks.has_role, report=runtime.audit.emit
        )
        return [frame async for frame in workflow.run(asked, ctx)]
    finally:
        unbind(token)


async def test_the_grammar_makes_the_small_model_write_a_valid_plan(runtime: Runtime) -> None:
    text = "A header injection in our HTTP client library; the vendor has a newer release."
    frames = await generated(runtime, "remediation_plan", text, 700)
    complete = frames[-1]
    assert isinstance(complete, CompleteFrame), frames[-1]
    assert complete.object is not None
    assert complete.object["action"] in ("upgrade_dependency", "patch_code", "refuse")


async def test_the_compact_schema_lets_the_small_model_finish_an_architecture(runtime: Runtime) -> None:
    text = "A web shop with a customer, a web app and a Postgres database."
    frames = await generated(runtime, "architecture_artifact", text, 900)
    complete = frames[-1]
    assert isinstance(complete, CompleteFrame), frames[-1]
    assert complete.object is not None
    assert 1 <= len(complete.object["elements"]) <= 6
