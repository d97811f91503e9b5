"""As users meet the gateway: agent and structured-output libraries pointed at it, over the mock
upstreams (OpenAI-compatible and Anthropic behind the same OpenAI door). Test-only dependencies.

- pydantic-ai: an `Agent` with `@agent.tool` and `output_type=Model` (a tool loop, then its
  output tool);
- instructor in `TOOLS` mode (a forced tool) and `JSON_SCHEMA` mode (response_format json_schema);
- LangChain's `ChatOpenAI.bind_tools(...).invoke`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import instructor
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from pydantic_ai import Agent, RunContext
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

ADAPTERS = ["openai", "anthropic"]
SCRIPT = {
    # Calls the first offered tool, then the output tool pydantic-ai offers (`final_result`).
    "agent": [{"tool_calls": [{}]}, {"tool_calls": [{"name": "final_result"}]}],
    "caller": [{"tool_calls": [{}]}],
    "structured": [{"json_answer": True}],
}


class Weather(BaseModel):
    city: str
    degrees: int
    sunny: bool


@pytest.fixture
def gateway_url(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> tuple[str, MockUpstream]:
    upstream = threaded_upstream(SCRIPT)
    server = gateway(
        {
            "providers": {
                "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": list(SCRIPT)},
                "claude": {"type": "anthropic", "base_url": upstream.url, "models": list(SCRIPT)},
            },
            "models": {
                **{f"openai-{m}": {"use": [f"up/{m}"]} for m in SCRIPT},
                **{f"anthropic-{m}": {"use": [f"claude/{m}"]} for m in SCRIPT},
            },
        }
    )
    return server.url + "/v1", upstream


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_pydantic_ai_agent_runs_its_tool_then_returns_its_output_type(
    gateway_url: tuple[str, MockUpstream], adapter: str
) -> None:
    url, upstream = gateway_url
    asked: list[str] = []

    async def run() -> object:
        async with openai.AsyncOpenAI(base_url=url, api_key="unused") as client:
            model = OpenAIChatModel(f"{adapter}-agent", provider=OpenAIProvider(openai_client=client))
            agent = Agent(model, output_type=Weather)

            @agent.tool
            def look_outside(ctx: RunContext[None], city: str) -> str:
                """What the sky looks like in a city."""
                asked.append(city)
                return "clear skies"

            return await agent.run("Is it sunny in Paris?")

    result: Any = asyncio.run(run())
    assert asked == ["example"]
    assert isinstance(result.output, Weather)
    # The tool's result went back to the model in the second turn, in the target's own wire.
    second = upstream.requests[-1]
    if adapter == "openai":
        assert any(m["role"] == "tool" and m["content"] == "clear skies" for m in second["messages"])
    else:
        blocks = [b for m in second["messages"] if isinstance(m["content"], list) for b in m["content"]]
        assert any(b["type"] == "tool_result" and b["content"] == "clear skies" for b in blocks)


# TOOLS: a forced tool named after the model; JSON_SCHEMA: response_format json_schema.
INSTRUCTOR_MODES = [(instructor.Mode.TOOLS, "caller"), (instructor.Mode.JSON_SCHEMA, "structured")]
FORCED_TOOL = {
    "openai": {"type": "function", "function": {"name": "Weather"}},
    "anthropic": {"type": "tool", "name": "Weather"},
}


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(("mode", "script"), INSTRUCTOR_MODES)
def test_instructor_returns_the_model(
    gateway_url: tuple[str, MockUpstream], adapter: str, mode: instructor.Mode, script: str
) -> None:
    url, upstream = gateway_url
    with openai.OpenAI(base_url=url, api_key="unused") as raw:
        client = instructor.from_openai(raw, mode=mode)
        weather = client.chat.completions.create(
            model=f"{adapter}-{script}",
            response_model=Weather,
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            max_retries=0,
        )
    assert isinstance(weather, Weather)
    assert weather.city == "example"
    sent = upstream.requests[-1]
    if mode == instructor.Mode.TOOLS:
        assert sent["tool_choice"] == FORCED_TOOL[adapter]
    elif adapter == "openai":
        assert sent["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_langchain_bind_tools_invoke_gets_the_call(
    gateway_url: tuple[str, MockUpstream], adapter: str
) -> None:
    url, _ = gateway_url
    chat = ChatOpenAI(model=f"{adapter}-caller", base_url=url, api_key="unused", max_retries=0)  # type: ignore[arg-type]
    message = chat.bind_tools([Weather]).invoke("Weather in Paris?")
    [call] = message.tool_calls  # type: ignore[attr-defined]
    assert call["name"] == "Weather"
    assert Weather.model_validate(call["args"]).city == "example"
    assert call["id"]
