// What every page shares: the key kept in this tab's session storage (never in a URL), JSON
// requests with it, and the typed frames of an SSE answer read from a POST (EventSource only GETs).

export function savedKey(name) {
  return sessionStorage.getItem(`sluicegate.${name}`) || "";
}

export function saveKey(name, value) {
  if (value) sessionStorage.setItem(`sluicegate.${name}`, value);
  else sessionStorage.removeItem(`sluicegate.${name}`);
}

// An API key field: filled from this tab's storage, and kept there when it changes.
export function keepKey(input, name = "key") {
  input.value = savedKey(name);
  input.addEventListener("change", () => saveKey(name, input.value));
}

export function headers(key, extra = {}) {
  const out = { ...extra };
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

export async function errorText(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

export async function getJson(path, key) {
  const response = await fetch(path, { headers: headers(key) });
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

// The frames of an SSE body, in order, as {event, data}.
export async function* sseFrames(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}
