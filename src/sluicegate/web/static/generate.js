// Structured generation live: each `element` frame is drawn the moment it validates (for an
// architecture artifact, a box per element and a line per relation), then `complete` shows the
// whole object, which can be copied as JSON.
import { element, errorText, getJson, headers, keepKey, savedKey, sseFrames } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const select = document.getElementById("schema");
const description = document.getElementById("description");
const list = document.getElementById("elements");
const status = document.getElementById("status");
const diagramBox = document.getElementById("diagram");
const result = document.getElementById("result");
const json = document.getElementById("json");
keepKey(document.getElementById("key"));
let schemas = [];

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

class Diagram {
  // Elements in columns by kind, left to right as a request flows; relations as arrows.
  static KINDS = ["actor", "application", "component", "data_store", "integration"];

  constructor() {
    this.nodes = new Map();
    this.edges = [];
    this.root = svg("svg", { class: "diagram", role: "img", "aria-label": "Architecture diagram", viewBox: "0 0 900 120" });
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#4a5360" }));
    const defs = svg("defs", {});
    defs.append(marker);
    this.root.append(defs);
    this.lines = svg("g", {});
    this.boxes = svg("g", {});
    this.root.append(this.lines, this.boxes);
    this.rows = new Map();
  }

  add(node) {
    const column = Math.max(0, Diagram.KINDS.indexOf(node.kind));
    const row = this.rows.get(column) || 0;
    this.rows.set(column, row + 1);
    const x = 10 + column * 178;
    const y = 10 + row * 70;
    const group = svg("g", { "data-id": node.id });
    group.append(svg("rect", { x, y, width: 160, height: 50, rx: 6 }));
    const name = svg("text", { x: x + 8, y: y + 20 });
    name.textContent = (node.name || node.id).slice(0, 24);
    const kind = svg("text", { x: x + 8, y: y + 38 });
    kind.textContent = node.kind.replace("_", " ");
    group.append(name, kind);
    this.boxes.append(group);
    this.nodes.set(node.id, { x, y });
    const height = Math.max(...[...this.rows.values()].map((rows) => rows * 70 + 20), 120);
    this.root.setAttribute("viewBox", `0 0 900 ${height}`);
    this.edges.filter((edge) => !edge.drawn).forEach((edge) => this.link(edge));
  }

  link(edge) {
    this.edges.includes(edge) || this.edges.push(edge);
    const from = this.nodes.get(edge.source);
    const to = this.nodes.get(edge.target);
    if (!from || !to) return;
    edge.drawn = true;
    const [x1, y1, x2, y2] = [from.x + 160, from.y + 25, to.x, to.y + 25];
    this.lines.append(svg("line", { x1, y1, x2, y2, "marker-end": "url(#arrow)" }));
    if (edge.label) {
      const label = svg("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, "text-anchor": "middle" });
      label.textContent = edge.label.slice(0, 16);
      this.lines.append(label);
    }
  }
}

async function load() {
  try {
    schemas = (await getJson("/v1/schemas", savedKey("key"))).data;
  } catch (failure) {
    status.textContent = failure.message;
    return;
  }
  for (const schema of schemas) select.append(element("option", { value: schema.name, text: schema.name }));
  const describe = () => {
    const chosen = schemas.find((s) => s.name === select.value);
    description.textContent = chosen ? chosen.description : "";
  };
  select.addEventListener("change", describe);
  describe();
}

document.getElementById("generate").addEventListener("submit", async (event) => {
  event.preventDefault();
  const go = document.getElementById("go");
  go.disabled = true;
  list.replaceChildren();
  diagramBox.replaceChildren();
  result.hidden = true;
  status.textContent = "Generating…";
  const diagram = select.value === "architecture_artifact" ? new Diagram() : null;
  if (diagram) diagramBox.append(diagram.root);
  try {
    const response = await fetch(`/v1/generate/${encodeURIComponent(select.value)}`, {
      method: "POST",
      headers: headers(savedKey("key"), { "Content-Type": "application/json" }),
      body: JSON.stringify(
        document.getElementById("role").value.trim()
          ? { input: document.getElementById("input").value, role: document.getElementById("role").value.trim() }
          : { input: document.getElementById("input").value },
      ),
    });
    if (!response.ok) {
      status.textContent = await errorText(response);
      return;
    }
    let count = 0;
    for await (const { event: kind, data } of sseFrames(response)) {
      if (kind === "element") {
        count += 1;
        const value = data.value;
        const label = "source" in value
          ? `${value.source} → ${value.target}${value.label ? `: ${value.label}` : ""}`
          : `${value.kind || value.action || ""}: ${value.name || value.package || value.file || ""}`;
        list.append(element("li", { "data-field": data.field, text: `${data.field}[${data.index}] ${label}` }));
        if (diagram && data.field === "elements") diagram.add(value);
        if (diagram && data.field === "relations") diagram.link({ ...value });
        status.textContent = `${count} element${count === 1 ? "" : "s"} so far…`;
      } else if (kind === "guardrail") {
        list.append(element("li", { class: "error", text: `repairing: ${data.rule}` }));
      } else if (kind === "complete") {
        json.textContent = JSON.stringify(data.object, null, 2);
        result.hidden = false;
        status.textContent = `Complete: ${count} elements, ${data.usage.total_tokens} tokens.`;
      } else if (kind === "error") {
        status.textContent = `No result: ${data.message}`;
      }
    }
  } catch (failure) {
    status.textContent = `The answer could not be read: ${failure.message}`;
  } finally {
    go.disabled = false;
  }
});

document.getElementById("copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(json.textContent);
    status.textContent = "Copied.";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(json);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    status.textContent = "Selected: press Ctrl+C to copy.";
  }
});

load();
