"""`POST /v1/generate/{schema}` through a running gateway over a mock upstream: elements stream as
they validate, then `complete` carries the whole object; an invalid answer is asked again with its
errors and elements already sent are not sent twice; a model that never validates ends in an
`error` frame; `GET /v1/schemas` lists both schemas; an unknown schema is a 404."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.sse import sse_frames
from sluicegate.testing.threads import UvicornThread

ELEMENTS = [
    {"kind": "actor", "id": "user", "name": "Customer"},
    {"kind": "application", "id": "web", "name": "Shop web"},
    {"kind": "data_store", "id": "db", "name": "Orders", "technology": "PostgreSQL"},
]
VALID = {
    "framework": "c4",
    "title": "Shop",
    "elements": ELEMENTS,
    "relations": [{"source": "user", "target": "web"}],
}
# First answer: two good elements, then one with an unknown kind (a closed union rejects it).
BROKEN = {**VALID, "elements": [*ELEMENTS[:2], {"kind": "queue", "id": "q", "name": "Jobs"}]}
SCRIPT: dict[str, Any] = {
    "good": [{"text": json.dumps(VALID), "chunk_chars": 9}],
    "mended": [
        {"match": "did not validate", "text": json.dumps(VALID), "chunk_chars": 11},
        {"text": "Sure! " + json.dumps(BROKEN), "chunk_chars": 7},
    ],
    "hopeless": [{"text": "I would rather draw it by hand."}],
    # A raw line break inside a string: the element is not JSON (found by the embedded benchmark).
    "raw_newline": [
        {"match": "did not validate", "text": json.dumps(VALID)},
        {"text": json.dumps(VALID).replace("Shop web", "Shop\nweb"), "chunk_chars": 13},
    ],
}


@pytest.fixture
def server(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> UvicornThread:
    upstream = threaded_upstream(SCRIPT)
    return gateway(
        {
            "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": list(SCRIPT)}},
            "models": {name: {"use": [f"up/{name}"]} for name in SCRIPT},
        }
    )


def frames(response: httpx.Response) -> list[tuple[str, Any]]:
    return sse_frames(response.text)


def generate(server: UvicornThread, role: str, schema: str = "architecture_artifact") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/generate/{schema}", json={"input": "an online shop", "role": role}, timeout=30
    )


def test_elements_stream_then_the_whole_object(server: UvicornThread) -> None:
    found = frames(generate(server, "good"))
    elements = [data for kind, data in found if kind == "element"]
    assert [(e["field"], e["index"]) for e in elements] == [
        ("elements", 0),
        ("elements", 1),
        ("elements", 2),
        ("relations", 0),
    ]
    assert elements[2]["value"]["technology"] == "PostgreSQL"
    kind, complete = found[-1]
    assert kind == "complete"
    assert complete["object"]["elements"][0]["id"] == "user"
    assert complete["object"]["relations"] == [{"source": "user", "target": "web", "label": ""}]


def test_an_invalid_answer_is_asked_again_and_nothing_is_sent_twice(server: UvicornThread) -> None:
    found = frames(generate(server, "mended"))
    elements = [(d["field"], d["index"]) for kind, d in found if kind == "element"]
    assert elements == [("elements", 0), ("elements", 1), ("relations", 0), ("elements", 2)]
    flagged = [d for kind, d in found if kind == "guardrail"]
    assert flagged
    assert "elements[2]" in flagged[0]["rule"]
    assert found[-1][0] == "complete"
    assert found[-1][1]["object"]["elements"][2]["kind"] == "data_store"


def test_an_element_that_is_not_json_is_reported_and_repaired_by_the_reask(server: UvicornThread) -> None:
    found = frames(generate(server, "raw_newline"))
    flagged = [d["rule"] for kind, d in found if kind == "guardrail"]
    assert any("elements[1]" in rule and "not JSON" in rule for rule in flagged)
    elements = sorted((d["field"], d["index"]) for kind, d in found if kind == "element")
    assert elements == [("elements", 0), ("elements", 1), ("elements", 2), ("relations", 0)]
    assert found[-1][0] == "complete"
    assert found[-1][1]["object"]["elements"][1]["name"] == "Shop web"


def test_a_model_that_never_validates_ends_in_an_error_frame(server: UvicornThread) -> None:
    found = frames(generate(server, "hopeless"))
    assert found[-1][0] == "error"
    assert found[-1][1]["type"] == "schema_violation"
    assert "3 attempts" in found[-1][1]["message"]


def test_schemas_are_listed_and_an_unknown_one_is_a_404(server: UvicornThread) -> None:
    listed = httpx.get(f"{server.url}/v1/schemas").json()["data"]
    assert {s["name"] for s in listed} == {"architecture_artifact", "remediation_plan"}
    plan = next(s for s in listed if s["name"] == "remediation_plan")
    assert plan["json_schema"]["discriminator"]["propertyName"] == "action"
    missing = generate(server, "good", schema="nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "schema_not_found"


FIVE = {
    "framework": "c4",
    "title": "Shop",
    "elements": [{"kind": "component", "id": f"c{i}", "name": f"Part {i}"} for i in range(5)],
}
FIVE_TEXT = json.dumps(FIVE)
# The first target dies a little after the third element has closed.
CUT_AFTER = (FIVE_TEXT.index('"c3"') // 10) + 1


def test_a_provider_failing_mid_stream_resumes_on_the_next_with_no_element_twice_or_missing(
    gateway: Callable[..., UvicornThread],
) -> None:
    script = {
        "models": {
            "cut": [
                {"text": FIVE_TEXT, "chunk_chars": 10, "fault": "truncate", "fault_after_chunks": CUT_AFTER}
            ],
            "backup": [{"text": FIVE_TEXT, "chunk_chars": 10}],
        }
    }
    server = gateway(
        {
            "providers": {"s": {"type": "scripted", "inline": script}},
            "models": {"artist": {"use": ["s/cut", "s/backup"]}},
            "retry": {"attempts": 1},
        }
    )
    found = frames(generate(server, "artist"))
    indexes = [d["index"] for kind, d in found if kind == "element"]
    assert indexes == [0, 1, 2, 3, 4]
    assert found[-1][0] == "complete"
    assert [e["id"] for e in found[-1][1]["object"]["elements"]] == [f"c{i}" for i in range(5)]
