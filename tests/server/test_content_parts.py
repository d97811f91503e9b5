"""Image parts through the gateway with the official client: forwarded to OpenAI-compatible
targets, translated to Anthropic image blocks, refused by a text-only target (which failover
skips), and refused in words a user understands when malformed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
URL = "https://images.example.com/cover.jpg"


@pytest.fixture
def served(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> tuple[openai.OpenAI, MockUpstream]:
    upstream = threaded_upstream({"m": [{"text": "A cover."}]})
    server = gateway(
        {
            "providers": {
                "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["m"]},
                "claude": {"type": "anthropic", "base_url": upstream.url, "models": ["m"]},
                "blind": {
                    "type": "openai",
                    "base_url": upstream.url + "/v1",
                    "models": ["m"],
                    "vision": False,
                },
                "local": {"type": "scripted", "inline": {"models": {"m": [{"text": "text only"}]}}},
            },
            "models": {
                "openai": {"use": ["up/m"]},
                "anthropic": {"use": ["claude/m"]},
                "textonly": {"use": ["local/m", "blind/m"]},
                "mixed": {"use": ["blind/m", "up/m"]},
            },
        }
    )
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0), upstream


def look(client: openai.OpenAI, model: str, *images: dict[str, Any]) -> Any:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "What is on these?"}]
    parts += [{"type": "image_url", "image_url": image} for image in images]
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": parts}])  # type: ignore[misc, list-item]


def test_image_parts_reach_an_openai_target_as_sent(served: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, upstream = served
    reply = look(client, "openai", {"url": URL, "detail": "low"}, {"url": PNG})
    assert reply.choices[0].message.content == "A cover."
    assert upstream.requests[-1]["messages"][0]["content"] == [
        {"type": "text", "text": "What is on these?"},
        {"type": "image_url", "image_url": {"url": URL, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": PNG}},
    ]


def test_image_parts_become_anthropic_image_blocks(served: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, upstream = served
    look(client, "anthropic", {"url": URL}, {"url": PNG})
    assert upstream.requests[-1]["messages"][0]["content"] == [
        {"type": "text", "text": "What is on these?"},
        {"type": "image", "source": {"type": "url", "url": URL}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG.split(",", 1)[1]},
        },
    ]


def test_an_image_type_anthropic_does_not_take_is_refused_by_name(
    served: tuple[openai.OpenAI, MockUpstream],
) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError, match="JPEG, PNG, GIF or WebP"):
        look(client, "anthropic", {"url": "data:image/tiff;base64,AAAA"})


def test_a_text_only_target_refuses_and_failover_skips_it(served: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError) as refused:
        look(client, "textonly", {"url": URL})
    assert refused.value.code == "unsupported_by_target"
    assert "image input is not supported by local/m" in refused.value.message
    assert "image input is not supported by blind/m" in refused.value.message
    reply = look(client, "mixed", {"url": URL})
    extension = reply.model_extra["x_sluicegate"]  # type: ignore[index]
    assert extension["served_by"] == "up/m"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}],
            "type 'input_audio' are not",
        ),
        ([{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}], "an http(s) URL or a data URL"),
        ([{"type": "image_url"}], "'messages.0.content.0.image_url': Field required"),
    ],
)
def test_a_malformed_part_is_refused_in_words_not_a_union_message(
    served: tuple[openai.OpenAI, MockUpstream], content: list[dict[str, Any]], says: str
) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="openai", messages=[{"role": "user", "content": content}])  # type: ignore[misc, list-item]
    assert says in refused.value.message
    assert "valid string" not in refused.value.message


def test_an_image_on_a_system_message_is_refused(served: tuple[openai.OpenAI, MockUpstream]) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError, match="belong on a 'user' message"):
        client.chat.completions.create(
            model="openai",
            messages=[{"role": "system", "content": [{"type": "image_url", "image_url": {"url": URL}}]}],  # type: ignore[list-item, misc]
        )


def test_five_stop_sequences_are_refused_with_the_real_reason(
    served: tuple[openai.OpenAI, MockUpstream],
) -> None:
    client, _ = served
    with pytest.raises(openai.BadRequestError, match="at most 4 items"):
        client.chat.completions.create(
            model="openai", messages=[{"role": "user", "content": "hi"}], stop=["a", "b", "c", "d", "e"]
        )
