// The operator's view: breakers with their state and last transition, calls in flight and queued
// per role, budgets per user, recent requests with route and outcome, and one request's audit
// events and state transitions in order. The admin key is kept in this tab's session storage.
import { element, getJson, saveKey, savedKey } from "./common.js";

const login = document.getElementById("login");
const views = document.getElementById("views");
const logout = document.getElementById("logout");

function rows(table, items, cells) {
  const body = document.querySelector(`#${table} tbody`);
  body.replaceChildren(...items.map((item) => element("tr", {}, ...cells(item).map((cell) => element("td", {}, cell)))));
}

function when(ts) {
  return new Date(ts * 1000).toLocaleTimeString();
}

async function lastTransitions(key) {
  const found = await getJson("/admin/events?type=breaker_transition&newest_first=true&limit=500", key);
  const last = new Map();
  for (const event of found.events) if (!last.has(event.payload.target)) last.set(event.payload.target, event);
  return last;
}

function traceLink(id) {
  const link = element("a", { href: `#trace=${id}`, text: id.slice(0, 12) });
  return link;
}

async function refresh() {
  const key = savedKey("admin");
  const [circuits, budgets, requests, transitions] = await Promise.all([
    getJson("/admin/circuits", key),
    getJson("/admin/budgets", key),
    getJson("/admin/events?type=request_completed&newest_first=true&limit=30", key),
    lastTransitions(key),
  ]);
  rows("breakers", circuits.circuits, (c) => {
    const last = transitions.get(c.target);
    return [
      c.target,
      element("span", { class: `state-${c.state}`, text: c.state.replace("_", " ") }),
      String(c.recent_failures),
      last ? `${last.payload.from_state} → ${last.payload.to_state} at ${when(last.ts)} (${last.payload.reason})` : "none yet",
    ];
  });
  rows("roles", Object.entries(circuits.roles), ([name, r]) => [name, String(r.in_flight), String(r.queued), String(r.max_concurrency)]);
  rows("budgets", budgets.budgets, (b) => [b.user, String(b.used), String(b.reserved), String(b.limit ?? "none"), String(b.remaining ?? "∞")]);
  rows("requests", requests.events, (e) => [when(e.ts), e.payload.model, e.payload.route || "", e.payload.outcome, traceLink(e.trace_id)]);
  document.getElementById("refreshed").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

async function showTrace() {
  const match = location.hash.match(/trace=([0-9a-f]+)/);
  const panel = document.getElementById("trace-panel");
  if (!match) {
    panel.hidden = true;
    return;
  }
  const found = await getJson(`/admin/events?trace_id=${match[1]}&limit=1000`, savedKey("admin"));
  document.getElementById("trace-title").textContent = `Trace ${match[1]}`;
  document.getElementById("trace").replaceChildren(
    ...found.events.map((e) => {
      const payload = e.payload;
      const summary = e.type === "routing_transition"
        ? `${payload.from_state} → ${payload.to_state} ${payload.detail || ""} (${payload.elapsed_ms ?? "?"} ms)`
        : JSON.stringify(payload).slice(0, 200);
      return element("li", { "data-type": e.type }, element("strong", { text: e.type }), ` ${when(e.ts)} ${summary}`);
    }),
  );
  panel.hidden = false;
  panel.scrollIntoView();
}

async function start() {
  try {
    await refresh();
  } catch (failure) {
    saveKey("admin", "");
    login.hidden = false;
    views.hidden = true;
    logout.hidden = true;
    document.getElementById("login-error").textContent = savedKey("admin") ? failure.message : "";
    document.getElementById("admin-key").focus();
    return false;
  }
  login.hidden = true;
  views.hidden = false;
  logout.hidden = false;
  await showTrace();
  return true;
}

login.addEventListener("submit", async (event) => {
  event.preventDefault();
  saveKey("admin", document.getElementById("admin-key").value);
  if (!(await start())) document.getElementById("login-error").textContent = "That key is not an admin key.";
});
logout.addEventListener("click", () => {
  saveKey("admin", "");
  location.hash = "";
  start();
});
window.addEventListener("hashchange", () => showTrace().catch(() => {}));
setInterval(() => { if (!views.hidden) refresh().catch(() => {}); }, 3000);
start();
