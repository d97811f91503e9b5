"""Inline guardrails as clients of /v1/chat/completions meet them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.threads import UvicornThread

SPLIT_CARD = ["Your card ", "41", "11 111", "1 1111 1", "111 is on file. Mail ", "ann@exam", "ple.com."]
SCRIPT = {
    "leaky": [{"chunks": SPLIT_CARD}],
    "rude": [{"text": "Well damn, try Barnes & Noble."}],
    # The SSN of the request written back as bare digits, which alone are no SSN.
    "echo": [{"chunks": ["Noted: your SSN is 0780", "5 1120, and we will ", "call 2079", "460958."]}],
}


@pytest.fixture
def start(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> Callable[..., UvicornThread]:
    def make(**guardrails: Any) -> UvicornThread:
        upstream = threaded_upstream(SCRIPT)
        return gateway(
            {
                "providers": {
                    "up": {"type": "openai", "base_url": upstream.url + "/v1", "models": list(SCRIPT)}
                },
                "models": {name: {"use": [f"up/{name}"]} for name in SCRIPT},
                "guardrails": guardrails,
            }
        )

    return make


def test_pii_of_the_request_echoed_in_another_form_never_reaches_the_client(
    start: Callable[..., UvicornThread],
) -> None:
    server = start()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    asked = "My SSN is 078-05-1120, phone +44 20 7946 0958. What do you have on file?"
    chunks = list(
        client.chat.completions.create(
            model="echo", stream=True, messages=[{"role": "user", "content": asked}]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Noted: your SSN is [SSN], and we will call [PHONE]."
    whole = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": asked}])
    assert whole.choices[0].message.content == text


def test_streamed_pii_split_across_chunks_is_masked(start: Callable[..., UvicornThread]) -> None:
    server = start()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="leaky", stream=True, messages=[{"role": "user", "content": "my card?"}]
        )
    )
    deltas = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(deltas) == "Your card [CARD] is on file. Mail [EMAIL]."
    assert not any(any(ch.isdigit() for ch in d) for d in deltas)
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    hits = final.model_extra["x_sluicegate"]["guardrails"]  # type: ignore[index]
    assert [(h["rule"], h["action"], h["stage"]) for h in hits] == [
        ("pii.card", "redact", "inline"),
        ("pii.email", "redact", "inline"),
    ]
    trace = final.model_extra["x_sluicegate"]["trace_id"]  # type: ignore[index]
    events = httpx.get(
        server.url + "/admin/events", params={"trace_id": trace, "type": "guardrail_hit"}
    ).json()
    assert [e["payload"]["rule"] for e in events["events"]] == ["pii.card", "pii.email"]
    assert (
        'sluicegate_guardrail_hits_total{action="redact",rule="pii.card"} 1.0'
        in httpx.get(server.url + "/metrics").text
    )


def test_non_streamed_answers_are_scanned_too(start: Callable[..., UvicornThread]) -> None:
    server = start()
    body = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "rude", "messages": [{"role": "user", "content": "hi"}]},
    ).json()
    assert body["choices"][0]["message"]["content"] == "Well [PROFANITY], try [COMPETITOR]."


def test_block_ends_the_answer_as_content_filtered(start: Callable[..., UvicornThread]) -> None:
    server = start(inline={"pii": "block", "competitors": "flag", "profanity": "flag"})
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="leaky", stream=True, messages=[{"role": "user", "content": "my card?"}]
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Your card "
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["content_filter"]
    reply = client.chat.completions.create(model="rude", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Well damn, try Barnes & Noble."  # flagged, not changed
    flagged = reply.model_extra["x_sluicegate"]["guardrails"]  # type: ignore[index]
    assert {h["action"] for h in flagged} == {"flag"}


def test_post_stream_findings_ride_on_the_final_chunk(
    threaded_upstream: Callable[..., MockUpstream], gateway: Callable[..., UvicornThread]
) -> None:
    from sluicegate.factsources.catalog import bundled_listings

    item = bundled_listings()[0]
    upstream = threaded_upstream({"seller": [{"text": f"{item['title']} is just $1.25 today."}]})
    server = gateway(
        {
            "providers": {"up": {"type": "openai", "base_url": upstream.url + "/v1", "models": ["seller"]}},
            # The shop's checks run on the answers of a role that enables its pack.
            "models": {"seller": {"use": ["up/seller"], "pack": "shop"}, "plain": {"use": ["up/seller"]}},
        }
    )
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="seller", stream=True, messages=[{"role": "user", "content": "price?"}]
        )
    )
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    found = final.model_extra["x_sluicegate"]["corrections"]  # type: ignore[index]
    assert [(f["text"], f["reason"].split(":")[0]) for f in found] == [
        (f"${item['price']:.2f}", f"price mismatch for {item['id']}")
    ]
    reply = client.chat.completions.create(model="seller", messages=[{"role": "user", "content": "price?"}])
    assert reply.model_extra["x_sluicegate"]["corrections"][0]["text"] == f"${item['price']:.2f}"  # type: ignore[index]
    # A role without the pack runs no shop logic on its answers: another business's prices are its own.
    plain = client.chat.completions.create(model="plain", messages=[{"role": "user", "content": "price?"}])
    assert plain.model_extra["x_sluicegate"]["corrections"] == []  # type: ignore[index]
    trace = plain.model_extra["x_sluicegate"]["trace_id"]  # type: ignore[index]
    events = httpx.get(server.url + "/admin/events", params={"trace_id": trace}).json()["events"]
    assert "POST_STREAM" not in [e["payload"].get("to_state") for e in events]
