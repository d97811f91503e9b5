"""The web pages in a real headless Chromium (Debian's `chromium`, driven by Playwright's client;
no browser download), against the real server over scripted models: streamed text, a wrong price
never shown and the correction said, a visible correction frame, a card with its trust badge, a
redaction explained, the session kept over a reload, errors as messages; `/generate` drawing
elements one by one before the complete object; `/admin` behind its key, an open breaker after a
failing upstream, and a trace. Screenshots go to `.artifacts/web/`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluicegate.testing import MockUpstream
from sluicegate.testing.shop import two_trusted_listings
from sluicegate.testing.threads import UvicornThread

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "web"

GOOD, OTHER = two_trusted_listings()
SHOP_REPLY = (
    f"{GOOD['title']} costs {{{{PRICE:{GOOD['id']}}}}}. {{{{CARD:{GOOD['id']}}}}} "
    f"{OTHER['title']} is only $3.50! Questions? Call 415-555-0132."
)
ARTIFACT = {
    "framework": "c4",
    "title": "Shop",
    "elements": [
        {"kind": "actor", "id": "user", "name": "Customer"},
        {"kind": "application", "id": "web", "name": "Shop web"},
        {"kind": "component", "id": "orders", "name": "Orders service"},
        {"kind": "data_store", "id": "db", "name": "Orders DB"},
    ],
    "relations": [
        {"source": "user", "target": "web", "label": "browses"},
        {"source": "web", "target": "orders", "label": "calls"},
        {"source": "orders", "target": "db", "label": "stores"},
    ],
}
VERDICT_INVALID = '{"verdict": "INVALID", "reasons": ["the height is wrong"]}'
VERDICT_VALID = '{"verdict": "VALID", "reasons": []}'
MODELS: dict[str, Any] = {
    "shop": [
        {"match": "fail", "fault": "server_error"},
        {"match": "price", "text": SHOP_REPLY, "chunk_chars": 6, "chunk_delay_s": 0.03},
        {"text": "Hello! Ask me about manga."},
    ],
    "artist": [{"text": json.dumps(ARTIFACT), "chunk_chars": 12, "chunk_delay_s": 0.02}],
    "reason": [
        {"match": "rejected by validation", "text": "It rises about 20.4 m."},
        {"text": "It rises 99 m.", "chunk_chars": 4, "chunk_delay_s": 0.02},
    ],
    "down": [{"fault": "server_error"}],
}
# The validator answers under a JSON schema, which only an HTTP upstream's wire carries.
JUDGE = {"judge": [{"match": "Answer: It rises 99 m", "text": VERDICT_INVALID}, {"text": VERDICT_VALID}]}
ADMIN_KEY = "admin-key-for-the-web-test"


def config(judge_url: str | None = None, **extra: Any) -> dict[str, Any]:
    providers: dict[str, Any] = {"s": {"type": "scripted", "inline": {"models": MODELS}}}
    models: dict[str, Any] = {
        "assistant": {"use": ["s/shop"]},
        "artist": {"use": ["s/artist"]},
        "reasoning": {"use": ["s/reason"]},
        "down": {"use": ["s/down"]},
    }
    if judge_url is not None:
        providers["up"] = {"type": "openai", "base_url": judge_url + "/v1", "models": ["judge"]}
        models["validation"] = {"use": ["up/judge"]}
    return {
        "providers": providers,
        "models": models,
        "retry": {"attempts": 1},
        "circuit_breaker": {"failure_threshold": 2, "window_s": 60, "reset_timeout_s": 60},
        **extra,
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def record_texts(page: Any, selector: str) -> None:
    """Every text the answer ever showed, kept in window.__seen (a wrong price even for a moment)."""
    page.evaluate(
        """(selector) => {
            window.__seen = [];
            new MutationObserver(() => {
                for (const node of document.querySelectorAll(selector)) window.__seen.push(node.textContent);
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }""",
        selector,
    )


def ask(page: Any, text: str) -> Any:
    page.get_by_label("Your message").fill(text)
    page.get_by_role("button", name="Send").click()
    answer = page.locator("article.turn.assistant").last
    answer.locator(".route, .error").first.wait_for(timeout=15_000)
    return answer


def test_chat_streams_cards_redactions_and_never_shows_the_wrong_price(
    gateway: Callable[..., UvicornThread], page: Any
) -> None:
    server = gateway(config(assistant={"routing": False}))
    page.goto(server.url + "/")
    record_texts(page, "article.turn.assistant .text")
    answer = ask(page, f"What is the price of {OTHER['series']}?")
    text = answer.locator(".text").inner_text()
    assert f"${GOOD['price']:.2f}" in text
    assert f"${OTHER['price']:.2f}" in text  # the invented $3.50, replaced by the catalog's
    seen = page.evaluate("window.__seen")
    assert len(seen) > 3  # streamed: the text grew chunk by chunk
    assert not any("$3.50" in snapshot for snapshot in seen)
    assert not any("415-555-0132" in snapshot for snapshot in seen)
    assert "[PHONE]" in text
    notes = answer.locator(".note").all_inner_texts()
    assert "a phone number was hidden" in notes
    assert "a price was corrected from the catalog" in notes
    card = answer.locator(".card")
    assert card.locator("h3").inner_text() == GOOD["title"]
    assert "Trusted seller" in card.locator(".badge").inner_text()
    assert "In stock" in card.inner_text()
    trace = answer.locator(".route a")
    assert trace.get_attribute("href").startswith("/admin#trace=")
    assert "Route:" in answer.locator(".route").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    page.reload()  # the session survives
    page.locator("article.turn.user").first.wait_for()
    assert page.locator("article.turn.user").first.inner_text() == f"What is the price of {OTHER['series']}?"
    assert "[PHONE]" in page.locator("article.turn.assistant").first.inner_text()


def test_a_correction_frame_visibly_replaces_the_wrong_span(
    gateway: Callable[..., UvicornThread], threaded_upstream: Callable[..., MockUpstream], page: Any
) -> None:
    judge = threaded_upstream(JUDGE)
    server = gateway(config(judge.url))  # routed turns are validated: the wrong answer is corrected
    page.goto(server.url + "/")
    answer = ask(page, "A ball is thrown up at 20 m/s. How high does it go? Solve it.")
    mark = answer.locator("mark.corrected")
    mark.wait_for()
    assert mark.inner_text() == "It rises about 20.4 m."
    assert any("corrected" in note for note in answer.locator(".note").all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "correction.png"), full_page=True)


def test_an_error_is_a_message_and_the_page_stays_usable(
    gateway: Callable[..., UvicornThread], page: Any
) -> None:
    server = gateway(config(assistant={"routing": False}))
    page.goto(server.url + "/")
    answer = ask(page, "please fail now")
    assert answer.locator(".error").inner_text()
    assert page.get_by_role("button", name="Send").is_enabled()
    second = ask(page, "hello there")
    assert second.locator(".text").inner_text() == "Hello! Ask me about manga."


def test_generate_draws_elements_one_by_one_before_the_complete_object(
    gateway: Callable[..., UvicornThread], page: Any
) -> None:
    server = gateway(config())
    page.goto(server.url + "/generate")
    page.get_by_label("Output schema").select_option("architecture_artifact")
    page.get_by_label("Describe what you want").fill("an online shop")
    page.get_by_label("Role (optional)").fill("artist")
    page.evaluate(
        """() => {
            window.__counts = [];
            new MutationObserver(() => window.__counts.push([
                document.querySelectorAll('#elements li').length,
                !document.getElementById('result').hidden,
            ])).observe(document.body, {subtree: true, childList: true, attributes: true});
        }"""
    )
    page.get_by_role("button", name="Generate").click()
    page.locator("#result:not([hidden])").wait_for(timeout=15_000)
    counts = page.evaluate("window.__counts")
    before_complete = {count for count, done in counts if not done}
    assert {1, 2, 3} <= before_complete  # elements appeared one by one, before the whole object
    assert page.locator("svg.diagram g[data-id]").count() == 4
    assert page.locator("svg.diagram line").count() == 3
    shown = json.loads(page.locator("#json").inner_text())
    assert [e["id"] for e in shown["elements"]] == ["user", "web", "orders", "db"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy JSON").click()
    page.get_by_role("status").filter(has_text="Copied").wait_for()
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == shown
    page.screenshot(path=str(ARTIFACTS / "generate.png"), full_page=True)


def test_admin_needs_its_key_then_shows_an_open_breaker_and_a_trace(
    gateway: Callable[..., UvicornThread], page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SG_WEB_ADMIN_KEY", ADMIN_KEY)
    server = gateway(
        config(auth={"admin_key_env": "SG_WEB_ADMIN_KEY"}, budgets={"tokens_per_hour_per_user": 50_000})
    )
    hello = {"model": "assistant", "messages": [{"role": "user", "content": "hello"}]}
    assert httpx.post(server.url + "/v1/chat/completions", json=hello).status_code == 200
    for _ in range(3):
        httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "down", "messages": [{"role": "user", "content": "hi"}]},
        )
    page.goto(server.url + "/admin")
    page.get_by_label("Admin key").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    playwright.expect(page.locator("#login-error")).to_contain_text("not an admin key")
    page.get_by_label("Admin key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    breaker = page.locator("#breakers tbody tr", has_text="s/down")
    breaker.wait_for()
    assert "open" in breaker.locator("td").nth(1).inner_text()
    assert "closed → open" in breaker.locator("td").nth(3).inner_text()
    assert page.locator("#roles tbody tr", has_text="down").count() == 1
    budget = page.locator("#budgets tbody tr", has_text="anonymous")
    assert budget.locator("td").nth(1).inner_text() != "0"  # tokens used
    assert budget.locator("td").nth(3).inner_text() == "50000"
    request = page.locator("#requests tbody tr", has_text="down").first
    request.locator("a").click()
    page.locator("#trace-panel:not([hidden])").wait_for()
    kinds = page.locator("#trace li").evaluate_all("items => items.map(i => i.dataset.type)")
    assert kinds[0] == "request_received" or "routing_transition" in kinds
    assert "routing_transition" in kinds
    assert "request_completed" in kinds
    assert ADMIN_KEY not in page.url
    page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)


def test_pages_work_at_phone_width_and_by_keyboard(
    gateway: Callable[..., UvicornThread], browser: Any
) -> None:
    server = gateway(config(assistant={"routing": False}))
    context = browser.new_context(viewport={"width": 375, "height": 740})
    phone = context.new_page()
    try:
        for path in ("/", "/generate", "/admin"):
            phone.goto(server.url + path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, path
            unlabelled = phone.evaluate(
                """() => [...document.querySelectorAll('input, select, textarea')]
                    .filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"""
            )
            assert unlabelled == [], path
        phone.goto(server.url + "/")
        phone.keyboard.press("Tab")  # the first link, then on to the message field
        for _ in range(3):
            phone.keyboard.press("Tab")
        assert phone.evaluate("document.activeElement.id") == "message"
        phone.keyboard.type("hello")
        phone.keyboard.press("Enter")
        phone.locator("article.turn.assistant .route").first.wait_for()
        phone.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    finally:
        context.close()


def test_pages_are_served_with_a_strict_content_security_policy(
    gateway: Callable[..., UvicornThread],
) -> None:
    server = gateway(config())
    for path in ("/", "/generate", "/admin"):
        page = httpx.get(server.url + path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert httpx.head(server.url + path).status_code == 200
    assert httpx.get(server.url + "/static/chat.js").headers["content-type"].startswith("text/javascript")
    missing = httpx.get(server.url + "/static/nope.js")
    assert missing.status_code == 404
