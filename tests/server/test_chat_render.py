"""Chat Completions rendering: the per-token event made from cached bytes is byte for byte the
event the general path builds."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from sluicegate.pipeline.context import RequestContext
from sluicegate.server.chat_render import ChatAnswer
from sluicegate.server.wire import ChatCompletionRequest


def answer(model: str, index: int = 0) -> ChatAnswer:
    body = ChatCompletionRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    return ChatAnswer(body, RequestContext(), index=index)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(),
    model=st.sampled_from(["m", 'odd "content":"" name', "mödel\\u2028", "gpt-4o"]),
    index=st.integers(0, 3),
)
def test_a_token_event_from_cached_bytes_is_the_general_one(text: str, model: str, index: int) -> None:
    rendered = answer(model, index)
    assert rendered.text_chunk(text) == rendered.chunk({"content": text})
    assert rendered.text_chunk(text + "!") == rendered.chunk({"content": text + "!"})  # cached now
    event = orjson.loads(rendered.text_chunk(text).removeprefix(b"data: "))
    assert event["choices"][0]["delta"] == {"content": text}
    assert event["model"] == model
