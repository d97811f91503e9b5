"""Elements stream the moment they close, wherever the chunks split the text: every split of the
JSON gives the same elements in the same order (property test)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sluicegate.structured.elements import ElementStream, StreamedElement

ARTIFACT = {
    "framework": "c4",
    "title": 'Shop "north" ]{ edge',
    "elements": [
        {"kind": "actor", "id": "user", "name": "Customer [web]"},
        {"kind": "component", "id": "api", "name": "API", "description": 'says "}" and \\\\'},
        {"kind": "data_store", "id": "db", "name": "Orders", "technology": "PostgreSQL"},
    ],
    "relations": [{"source": "user", "target": "api", "label": "uses {https}"}],
}
TEXT = json.dumps(ARTIFACT, indent=1)


def streamed(chunks: list[str]) -> list[StreamedElement]:
    stream = ElementStream()
    found: list[StreamedElement] = []
    for chunk in chunks:
        found += stream.feed(chunk)
    return found


EXPECTED = [StreamedElement("elements", i, e) for i, e in enumerate(ARTIFACT["elements"])] + [
    StreamedElement("relations", 0, ARTIFACT["relations"][0])
]


def test_whole_text_at_once() -> None:
    assert streamed([TEXT]) == EXPECTED


def test_one_character_at_a_time_each_element_arrives_with_its_closing_bracket() -> None:
    stream = ElementStream()
    arrivals = []
    for position, char in enumerate(TEXT):
        for element in stream.feed(char):
            arrivals.append((element.index, element.field, TEXT[position]))
    assert [(i, f) for i, f, _ in arrivals] == [(e.index, e.field) for e in EXPECTED]
    assert all(char == "}" for _, _, char in arrivals)


@given(st.lists(st.integers(min_value=0, max_value=len(TEXT)), max_size=40))
def test_every_split_gives_the_same_elements(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [TEXT[a:b] for a, b in zip([0, *points], [*points, len(TEXT)], strict=True)]
    assert streamed(chunks) == EXPECTED


def test_prose_before_the_object_and_nested_arrays_inside_elements() -> None:
    text = 'Here you go: {"elements": [{"kind": "x", "tags": [1, [2]]}, {"kind": "y"}], "n": [3]}'
    found = streamed([text])
    assert [e.value for e in found] == [{"kind": "x", "tags": [1, [2]]}, {"kind": "y"}]


def test_an_element_that_is_not_json_is_reported_not_raised() -> None:
    """Found by the embedded benchmark: a raw newline inside a string stopped the whole stream."""
    text = '{"elements": [{"kind": "actor", "name": "A\nB"}, {"kind": "y"}]}'
    found = streamed([text[:20], text[20:]])
    assert found[0].value is None
    assert found[0].error is not None
    assert "control character" in found[0].error
    assert found[1] == StreamedElement("elements", 1, {"kind": "y"})


def test_a_key_with_a_raw_control_character_does_not_stop_the_stream() -> None:
    text = '{"ti\ntle": "x", "elements": [{"kind": "y"}]}'
    assert streamed([text]) == [StreamedElement("elements", 0, {"kind": "y"})]
