// The app side of MCP Apps (SEP-1865) over postMessage: JSON-RPC 2.0 with the host window.
// Written by hand rather than bundling @modelcontextprotocol/ext-apps: its App class brings the
// MCP SDK and zod, 600 KB minified, four times the page's 150 KB budget. The browser test drives
// this page through the SDK's own AppBridge, so the two stay compatible.

const PROTOCOL_VERSION = "2026-01-26";
let nextId = 1;
const pending = new Map();
const handlers = new Map();

function post(message) {
  window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
}

export function request(method, params) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    post({ id, method, params });
  });
}

export function notify(method, params) {
  post({ method, params });
}

/** Handles a notification (or request, whose answer is the handler's return value). */
export function on(method, handler) {
  handlers.set(method, handler);
}

window.addEventListener("message", async (event) => {
  if (event.source !== window.parent) return;
  const m = event.data;
  if (!m || m.jsonrpc !== "2.0") return;
  if (m.method === undefined && pending.has(m.id)) {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error.message || "request failed"));
    else p.resolve(m.result);
    return;
  }
  const handler = handlers.get(m.method);
  if (m.id === undefined) {
    if (handler) handler(m.params || {});
    return;
  }
  try {
    const result = handler ? await handler(m.params || {}) : {};
    post({ id: m.id, result: result || {} });
  } catch (e) {
    post({ id: m.id, error: { code: -32603, message: String(e) } });
  }
});

export async function connect() {
  const result = await request("ui/initialize", {
    appInfo: { name: "seedream-gallery", version: "1.0.0" },
    appCapabilities: {},
    protocolVersion: PROTOCOL_VERSION,
  });
  notify("ui/notifications/initialized", {});
  return result || {};
}

export function callTool(name, args) {
  return request("tools/call", { name, arguments: args });
}

/** Keeps the host's iframe as tall as the page. */
export function reportSize() {
  let last = 0;
  const send = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      notify("ui/notifications/size-changed", { height });
    }
  };
  new ResizeObserver(send).observe(document.documentElement);
  send();
}
