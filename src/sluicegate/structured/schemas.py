"""The registry of named output types (seed 003 ADR-0001): each a closed Pydantic model or a
closed discriminated union (`Literal` tags, `extra="forbid"`), so that a model's output either is
one of the declared shapes or is rejected. Two ship:

- `architecture_artifact` (seed 002): a diagram's elements — actor, application, component, data
  store, integration, told apart by `kind` — and the relations between them, for a framework.
- `remediation_plan` (seed 003): what to do about a vulnerability, one of `upgrade_dependency`,
  `patch_code` or `refuse`, told apart by `action`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sluicegate.errors import SchemaNotFound

Name = Annotated[str, Field(min_length=1, max_length=120)]
# Free text is unbounded: a bound becomes a repetition in the llama.cpp grammar built from the
# schema, and a few thousand of them crash the embedded model's worker.
Text = str
Code = str
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- architecture_artifact (seed 002) ------------------------------------------------------------


class Named(Closed):
    id: Id
    name: Name
    description: Text = ""


class Actor(Named):
    kind: Literal["actor"]


class Application(Named):
    kind: Literal["application"]


class Component(Named):
    kind: Literal["component"]
    technology: str = ""


class DataStore(Named):
    kind: Literal["data_store"]
    technology: str = ""


class Integration(Named):
    kind: Literal["integration"]
    protocol: str = ""


Element = Annotated[Actor | Application | Component | DataStore | Integration, Field(discriminator="kind")]


class Relation(Closed):
    source: Id
    target: Id
    label: Text = ""


class ArchitectureArtifact(Closed):
    framework: Literal["c4", "archimate", "uml", "flowchart"]
    title: Name
    elements: Annotated[list[Element], Field(min_length=1, max_length=200)]
    relations: Annotated[list[Relation], Field(max_length=400)] = []


# -- remediation_plan (seed 003) -----------------------------------------------------------------


class UpgradeDependency(Closed):
    action: Literal["upgrade_dependency"]
    package: Name
    from_version: Name
    to_version: Name
    rationale: Text


class PatchCode(Closed):
    action: Literal["patch_code"]
    file: Annotated[str, Field(min_length=1, max_length=300)]
    change: Code
    rationale: Text


class Refuse(Closed):
    action: Literal["refuse"]
    reason: Text


RemediationPlan = Annotated[UpgradeDependency | PatchCode | Refuse, Field(discriminator="action")]


# -- the registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSchema:
    name: str
    description: str
    adapter: TypeAdapter[Any]
    # Top-level arrays whose elements stream as `element` frames, with each element's type.
    streamed: dict[str, TypeAdapter[Any]]

    def json_schema(self) -> dict[str, Any]:
        return self.adapter.json_schema()

    def compact_json_schema(self, *, items: int = 6, chars: int = 60) -> dict[str, Any]:
        """The schema with every array and free string bounded, for a small context: a grammar
        built from it always ends the object within the model's room (the output still validates
        against the full schema, of which it is a narrowing)."""
        bounded: dict[str, Any] = _bounded(self.json_schema(), items, chars)
        return bounded


SCHEMAS: dict[str, OutputSchema] = {
    schema.name: schema
    for schema in (
        OutputSchema(
            "architecture_artifact",
            "An architecture diagram: typed elements and the relations between them (seed 002).",
            TypeAdapter(ArchitectureArtifact),
            {"elements": TypeAdapter(Element), "relations": TypeAdapter(Relation)},
        ),
        OutputSchema(
            "remediation_plan",
            "What to do about a vulnerability: upgrade a dependency, patch code, or refuse (seed 003).",
            TypeAdapter(RemediationPlan),
            {},
        ),
    )
}


def schema_named(name: str) -> OutputSchema:
    schema = SCHEMAS.get(name)
    if schema is None:
        known = ", ".join(sorted(SCHEMAS))
        raise SchemaNotFound(f"No output schema named '{name}' (schemas: {known}).", param="schema")
    return schema


def _bounded(node: Any, items: int, chars: int) -> Any:
    if isinstance(node, list):
        return [_bounded(value, items, chars) for value in node]
    if not isinstance(node, dict):
        return node
    bounded = {key: _bounded(value, items, chars) for key, value in node.items()}
    if bounded.get("type") == "array":
        bounded["maxItems"] = min(bounded.get("maxItems", items), items)
    if (
        bounded.get("type") == "string"
        and "enum" not in bounded
        and "const" not in bounded
        and "pattern" not in bounded
    ):
        bounded["maxLength"] = min(bounded.get("maxLength", chars), chars)
    return bounded
