// The shop assistant chat: tokens stream into the answer; a correction replaces its span where
// everyone can see it (highlighted, then settling); cards show title, price, stock and a trust
// badge; guardrail hits say what was hidden and why; the route and a link to the trace close each
// answer; errors are messages. The session id lives in local storage, so a reload keeps the talk.
import { element, errorText, headers, keepKey, savedKey, sseFrames } from "./common.js";

const log = document.getElementById("log");
const form = document.getElementById("ask");
const input = document.getElementById("message");
const send = document.getElementById("send");
keepKey(document.getElementById("key"));

const WHY = {
  "pii.email": "an e-mail address was hidden",
  "pii.phone": "a phone number was hidden",
  "pii.card": "a card number was hidden",
  "pii.ssn": "a social security number was hidden",
  competitor: "another store's name was hidden",
  profanity: "a rude word was hidden",
  "price.corrected": "a price was corrected from the catalog",
  "price.unverifiable": "an unverified price was removed",
  "placeholder.unknown_id": "an unknown product was left out",
  trust_filter: "a low-trust listing was not shown",
};

function explain(frame) {
  const base = frame.rule.replace(/\.echo$/, "");
  const why = WHY[base] || `${frame.rule} (${frame.action})`;
  return frame.rule.endsWith(".echo") ? `${why} (repeated from your message)` : why;
}

function turnBox(role, text = "") {
  const box = element("article", { class: `turn ${role}`, "aria-label": role === "user" ? "You" : "Assistant" });
  const body = element("div", { class: "text" });
  body.textContent = text;
  box.append(body);
  log.append(box);
  box.scrollIntoView({ block: "end" });
  return box;
}

class Answer {
  constructor(box) {
    this.box = box;
    this.body = box.querySelector(".text");
    this.text = "";
    this.marks = []; // [start, end) spans that corrections wrote
    this.notes = element("div", { class: "notes" });
    this.cards = element("div", { class: "cards" });
    box.append(this.notes, this.cards);
  }

  render() {
    this.body.replaceChildren();
    let cursor = 0;
    for (const [start, end] of [...this.marks].sort((a, b) => a[0] - b[0])) {
      if (start < cursor) continue;
      this.body.append(this.text.slice(cursor, start));
      const mark = element("mark", { class: "corrected", title: "corrected" });
      mark.textContent = this.text.slice(start, end);
      this.body.append(mark);
      setTimeout(() => mark.classList.add("settled"), 1500);
      cursor = end;
    }
    this.body.append(this.text.slice(cursor));
  }

  token(frame) {
    this.text += frame.text;
    this.render();
  }

  correction(frame) {
    const [start, end] = frame.replace;
    const shift = frame.text.length - (end - start);
    this.text = this.text.slice(0, start) + frame.text + this.text.slice(end);
    this.marks = this.marks
      .filter(([s, e]) => e <= start || s >= end)
      .map(([s, e]) => (s >= end ? [s + shift, e + shift] : [s, e]));
    this.marks.push([start, start + frame.text.length]);
    this.render();
    this.note(`corrected: ${frame.reason}`, "redact");
  }

  note(text, kind = "") {
    this.notes.append(element("span", { class: `note ${kind}`, text }));
  }

  card(frame) {
    const trust = frame.trust_signals || {};
    const badge = trust.new_seller
      ? element("span", { class: "badge new", text: "New seller" })
      : element("span", { class: "badge", text: `Trusted seller ${Math.round((trust.score || 0) * 100)}%` });
    const price = frame.currency === "USD" ? `$${frame.price.toFixed(2)}` : `${frame.price.toFixed(2)} ${frame.currency}`;
    const stock = frame.stock > 0 ? `In stock (${frame.stock})` : "Out of stock";
    this.cards.append(
      element("div", { class: "card", "data-id": frame.id },
        element("h3", { text: frame.title }),
        element("div", { class: "price", text: price }),
        element("div", { text: stock }),
        badge,
        element("div", { class: "seller", text: trust.seller ? `Sold by ${trust.seller}` : "" })),
    );
  }

  complete(frame) {
    if (typeof frame.text === "string" && frame.text !== this.text) {
      this.text = frame.text;
      this.render();
    }
    const meta = element("div", { class: "meta route" });
    meta.append(`Route: ${frame.route} · `, element("a", { href: `/admin#trace=${frame.trace_id}`, text: "trace" }));
    this.box.append(meta);
  }

  error(message) {
    this.box.append(element("p", { class: "error", role: "alert", text: message }));
  }
}

async function session() {
  let id = localStorage.getItem("sluicegate.session");
  if (id) {
    const response = await fetch(`/v1/assistant/sessions/${id}`, { headers: headers(savedKey("key")) });
    if (response.ok) {
      const doc = await response.json();
      for (const turn of doc.turns || []) turnBox(turn.role === "user" ? "user" : "assistant", turn.content);
      return id;
    }
  }
  const made = await fetch("/v1/assistant/sessions", { method: "POST", headers: headers(savedKey("key")) });
  if (!made.ok) throw new Error(await errorText(made));
  id = (await made.json()).session_id;
  localStorage.setItem("sluicegate.session", id);
  return id;
}

let current = null;

async function ask(text) {
  turnBox("user", text);
  const answer = new Answer(turnBox("assistant"));
  try {
    current = current || (await session());
    const response = await fetch(`/v1/assistant/sessions/${current}/messages`, {
      method: "POST",
      headers: headers(savedKey("key"), { "Content-Type": "application/json" }),
      body: JSON.stringify({ content: text }),
    });
    if (!response.ok) {
      answer.error(await errorText(response));
      return;
    }
    for await (const { event, data } of sseFrames(response)) {
      if (event === "token") answer.token(data);
      else if (event === "correction") answer.correction(data);
      else if (event === "guardrail") answer.note(explain(data), data.action);
      else if (event === "card") answer.card(data);
      else if (event === "complete") answer.complete(data);
      else if (event === "error") answer.error(data.message);
    }
  } catch (failure) {
    answer.error(`The answer could not be read: ${failure.message}`);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send.disabled = true;
  try {
    await ask(text);
  } finally {
    send.disabled = false;
    input.focus();
  }
});

document.getElementById("restart").addEventListener("click", async () => {
  localStorage.removeItem("sluicegate.session");
  log.replaceChildren();
  current = null;
  input.focus();
});

session()
  .then((id) => { current = id; })
  .catch((failure) => turnBox("assistant").append(element("p", { class: "error", role: "alert", text: failure.message })));
