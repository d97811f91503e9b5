"""Tolerant about the wrapping, strict about the value: JSON in prose and code fences, trailing
commas and a cut-off answer; a wrong tag and an extra field are rejected, and the errors say where."""

from __future__ import annotations

import pytest

from sluicegate.errors import OutputNotJson, SchemaNotFound
from sluicegate.structured.extract import json_text, parse
from sluicegate.structured.schemas import SCHEMAS, PatchCode, Refuse, schema_named

PLAN = SCHEMAS["remediation_plan"].adapter
REFUSAL = '{"action": "refuse", "reason": "not an application-layer CVE"}'


@pytest.mark.parametrize(
    "text",
    [
        REFUSAL,
        f"Here is the plan:\n```json\n{REFUSAL}\n```\nLet me know.",
        f"Sure! {REFUSAL} Hope that helps.",
        '{"action": "refuse", "reason": "not an application-layer CVE",}',
        f"```\n{REFUSAL}\n```",
    ],
)
def test_the_value_is_found_whatever_wraps_it(text: str) -> None:
    parsed = parse(text, PLAN)
    assert parsed.errors == ()
    assert parsed.value == Refuse(action="refuse", reason="not an application-layer CVE")


def test_a_brace_inside_a_string_is_text() -> None:
    text = 'prefix {"action": "patch_code", "file": "a.py", "change": "if x: {y}", "rationale": "]"} suffix'
    assert parse(text, PLAN).value == PatchCode(
        action="patch_code", file="a.py", change="if x: {y}", rationale="]"
    )


def test_cut_off_and_missing_json_are_errors_not_values() -> None:
    with pytest.raises(OutputNotJson, match="cut off"):
        json_text('{"action": "refuse", "reason": "no')
    with pytest.raises(OutputNotJson, match="no JSON"):
        json_text("I cannot help with that.")
    assert parse('{"action": "refuse"', PLAN).errors[0].startswith("not JSON")


def test_a_wrong_tag_and_an_extra_field_are_rejected_with_where() -> None:
    wrong_tag = parse('{"action": "delete_repo", "reason": "x"}', PLAN)
    assert wrong_tag.value is None
    assert any("delete_repo" in e or "action" in e for e in wrong_tag.errors)
    extra = parse('{"action": "refuse", "reason": "x", "confidence": 0.9}', PLAN)
    assert extra.value is None
    assert any(e.startswith("refuse.confidence") for e in extra.errors)


def test_an_unknown_schema_is_a_404() -> None:
    with pytest.raises(SchemaNotFound, match="architecture_artifact, remediation_plan"):
        schema_named("nope")
    assert SchemaNotFound.status == 404


def test_a_refusal_in_words_is_told_apart_from_a_malformed_answer() -> None:
    from sluicegate.structured.extract import refusal

    assert refusal("I'm sorry, but I can't help with that.") == "I'm sorry, but I can't help with that."
    assert refusal("I cannot assist with creating exploits.") is not None
    assert refusal('Sure! Here it is: {"action": "refuse"') is None
    assert refusal("The plan: upgrade requests.") is None


def test_the_compact_schema_bounds_arrays_and_free_strings_only() -> None:
    artifact = schema_named("architecture_artifact")
    compact = artifact.compact_json_schema(items=8, chars=120)
    assert compact["properties"]["elements"]["maxItems"] == 8
    actor = compact["$defs"]["Actor"]["properties"]
    assert actor["description"]["maxLength"] == 120
    assert "maxLength" not in actor["kind"]  # a tag is a const or an enum: left alone
    assert actor["name"]["maxLength"] == 120
    assert artifact.json_schema()["properties"]["elements"]["maxItems"] == 200  # the full one is untouched
