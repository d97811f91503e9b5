"""Deterministic tools: typed functions (pydantic arguments, pydantic results) that answer without
a model. The router calls one directly (TOOL_ONLY_EXECUTION); a model gets them as tool
definitions and the orchestrator runs the calls it makes (TOOL_EXECUTION)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from sluicegate.errors import InvalidRequest
from sluicegate.types import ToolSpec


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    arguments: type[BaseModel]
    run: Callable[[Any], Awaitable[BaseModel]]

    def spec(self) -> ToolSpec:
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(self.name, schema, self.description, strict=None)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One call's outcome: the result, or why it could not run (told to the model, not raised)."""

    name: str
    arguments: dict[str, Any]
    result: BaseModel | None = None
    error: str | None = None

    def as_json(self) -> str:
        if self.result is not None:
            return self.result.model_dump_json()
        return json.dumps({"error": self.error})


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(self._tools[name].spec() for name in self.names)

    async def call(self, name: str, arguments: str | dict[str, Any]) -> ToolResult:
        """Run a call as a model wrote it: unknown tools and arguments its schema refuses come back
        as errors for the model to read."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(name, {}, error=f"no tool named '{name}' (tools: {', '.join(self.names)})")
        try:
            raw = json.loads(arguments) if isinstance(arguments, str) else arguments
            parsed = tool.arguments.model_validate(raw)
        except (json.JSONDecodeError, ValidationError) as exc:
            return ToolResult(name, {}, error=f"arguments rejected: {exc}")
        return ToolResult(name, parsed.model_dump(), result=await tool.run(parsed))

    def require(self, name: str) -> Tool:
        tool = self._tools.get(name)
        if tool is None:
            raise InvalidRequest(f"No deterministic tool named '{name}'.", param="tool")
        return tool
