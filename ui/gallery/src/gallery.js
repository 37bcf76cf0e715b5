// The gallery: placeholders while a call runs, then the images in a grid with their size,
// click-to-enlarge, the prompt, model and usage, failures in place, and actions that call the
// server's tools through the host. Pixels come from the app-only `get_image` tool, never from
// the model-visible result.
import { connect, on, callTool, request, reportSize } from "./bridge.js";

const root = document.getElementById("app");
const state = { tool: null, args: null, hostCaps: {}, section: null };
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

function applyContext(ctx) {
  if (!ctx) return;
  if (ctx.theme) document.documentElement.dataset.theme = ctx.theme;
  const vars = ctx.styles && ctx.styles.variables;
  if (vars) for (const [k, v] of Object.entries(vars)) if (v) document.documentElement.style.setProperty(k, v);
  if (ctx.toolInfo && ctx.toolInfo.tool) state.tool = ctx.toolInfo.tool.name;
}

/** A new result section at the top; `label` says what made it. */
function section(label) {
  const s = el("section", "result");
  if (label) s.append(el("p", "label", label));
  root.prepend(s);
  return s;
}

function placeholders(s, count, message) {
  s.querySelector(".grid")?.remove();
  s.querySelector(".status")?.remove();
  s.append(el("p", "status", message));
  const grid = el("div", "grid");
  for (let i = 0; i < count; i++) grid.append(el("div", "card placeholder"));
  s.append(grid);
}

function expected(args) {
  return Math.max(1, Math.min(15, Number(args && args.max_images) || 1));
}

function sizeText(img) {
  const parts = [];
  if (img.width && img.height) parts.push(`${img.width}×${img.height}`);
  if (img.mime_type) parts.push(img.mime_type.replace("image/", "").toUpperCase());
  if (img.bytes) parts.push(img.bytes >= 1e6 ? `${(img.bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(img.bytes / 1e3)} KB`);
  return parts.join(" · ");
}

async function pixels(img, maxEdge) {
  const uri = img.resource || img.url;
  const args = maxEdge ? { uri, max_edge: maxEdge } : { uri };
  const r = await callTool("get_image", args);
  const block = r && !r.isError && (r.content || []).find((c) => c.type === "image");
  if (!block) throw new Error(((r && r.content) || []).map((c) => c.text || "").join(" ") || "no image");
  return `data:${block.mimeType};base64,${block.data}`;
}

function render(s, result, label) {
  const data = result.structuredContent;
  s.replaceChildren();
  if (label) s.append(el("p", "label", label));
  if (result.isError || !data) {
    const text = (result.content || []).map((c) => c.text || "").join("\n");
    s.append(el("div", "card failure", text || "The call failed."));
    return Promise.resolve();
  }
  if (data.status === "running") return follow(s, data, label);
  const meta = el("div", "meta");
  if (data.prompt) meta.append(el("p", "prompt", data.prompt));
  const facts = [data.model];
  if (data.usage) {
    if (data.usage.generated_images != null) facts.push(`${data.usage.generated_images} billed`);
    if (data.usage.total_tokens != null) facts.push(`${data.usage.total_tokens} tokens`);
  }
  if (data.cost && data.cost.estimated != null) facts.push(`≈ ${data.cost.estimated} ${data.cost.currency}`);
  meta.append(el("p", "facts", facts.filter(Boolean).join(" · ")));
  s.append(meta);
  const grid = el("div", "grid");
  s.append(grid);
  const cards = [];
  for (const img of data.images || []) cards.push({ index: img.index, node: imageCard(img, data), img });
  for (const f of data.failures || []) cards.push({ index: f.index, node: failureCard(f) });
  cards.sort((a, b) => a.index - b.index).forEach((c) => grid.append(c.node));
  const edge = Math.round(Math.min(1600, Math.max(320, grid.clientWidth / 2)) * (window.devicePixelRatio || 1));
  return Promise.all(cards.filter((c) => c.img).map((c) => fill(c.node, c.img, edge)));
}

async function fill(card, img, edge) {
  const pic = card.querySelector("img");
  try {
    pic.src = await pixels(img, edge);
    await pic.decode();
    card.classList.remove("loading");
  } catch (e) {
    card.classList.add("failure");
    card.querySelector(".frame").replaceChildren(el("p", "why", `Could not load image ${img.index}: ${e.message}`));
  }
}

function imageCard(img, data) {
  const card = el("figure", "card loading");
  const frame = el("div", "frame");
  if (img.width && img.height) frame.style.aspectRatio = `${img.width} / ${img.height}`;
  const pic = el("img");
  pic.alt = `Image ${img.index}: ${data.prompt || ""}`;
  pic.addEventListener("click", () => enlarge(img, pic.src));
  frame.append(pic);
  const caption = el("figcaption", null);
  caption.append(el("span", "size", `#${img.index} · ${sizeText(img)}`));
  if (img.problem) caption.append(el("span", "problem", img.problem));
  const actions = el("div", "actions");
  const button = (text, fn) => {
    const b = el("button", null, text);
    b.addEventListener("click", fn);
    actions.append(b);
  };
  button("Edit this", () => editBox(card, img));
  button("Variations", () => variations(data));
  if (img.path) button("Copy path", (e) => copy(img.path, e.target));
  if (img.url && state.hostCaps.openLinks) button("Open", () => request("ui/open-link", { url: img.url }));
  if (state.hostCaps.downloadFile && (img.resource || img.url))
    button("Download", () => request("ui/download-file", { contents: [{ type: "resource_link", uri: img.resource || img.url, name: `image-${img.index}`, mimeType: img.mime_type }] }));
  caption.append(actions);
  card.append(frame, caption);
  return card;
}

function failureCard(f) {
  const card = el("div", "card failure");
  card.append(el("p", "why", `Image ${f.index} failed: ${f.code}`), el("p", null, f.message));
  const hint = /Sensitive|Risk/i.test(f.code)
    ? "Rephrase the prompt and try again; failed images are not billed."
    : "Try again; failed images are not billed.";
  card.append(el("p", "hint", hint));
  return card;
}

function editBox(card, img) {
  if (card.querySelector(".edit")) return;
  // Not a <form>: hosts' sandboxes rarely grant allow-forms, and a blocked submit never fires.
  const box = el("div", "edit");
  const input = el("input");
  input.placeholder = "What to change, e.g. make it a watercolor";
  const go = el("button", null, "Edit");
  const submit = () => {
    const prompt = input.value.trim();
    if (!prompt) return input.focus();
    box.remove();
    run("edit_image", { prompt, images: [img.path || img.url] }, `Edit of image ${img.index}: ${prompt}`, 1);
  };
  go.addEventListener("click", submit);
  input.addEventListener("keydown", (e) => e.key === "Enter" && submit());
  box.append(input, go);
  card.append(box);
  input.focus();
}

function variations(data) {
  const same = state.tool && state.tool !== "get_job" && state.args;
  const tool = same ? state.tool : "generate_image";
  const args = same ? state.args : { prompt: data.prompt, model: data.model };
  run(tool, args, `Variations: ${args.prompt}`, expected(args));
}

async function run(tool, args, label, count) {
  const s = section(label);
  placeholders(s, count, "Generating…");
  try {
    await render(s, await callTool(tool, args), label);
  } catch (e) {
    s.replaceChildren(el("div", "card failure", String(e.message || e)));
  }
}

/** A call still running: keep asking get_job until it finishes. */
async function follow(s, data, label) {
  placeholders(s, 1, `Still working (${data.phase || "running"})…`);
  const next = await callTool("get_job", { job_id: data.job_id, wait_seconds: 30 });
  return render(s, next, label);
}

function enlarge(img, preview) {
  const box = el("div", "lightbox");
  const pic = el("img");
  pic.src = preview;
  box.append(pic);
  box.addEventListener("click", () => box.remove());
  document.body.append(box);
  pixels(img).then((src) => (pic.src = src)).catch(() => {});
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    prompt("Copy the path:", text);
  }
}

on("ui/notifications/tool-input", (p) => {
  state.args = p.arguments || {};
  state.section = state.section || section();
  placeholders(state.section, expected(state.args), "Generating…");
});
on("ui/notifications/tool-result", async (result) => {
  state.section = state.section || section();
  window.__resultAt = Date.now();
  await render(state.section, result);
  document.body.dataset.paintedAt = String(Date.now());
});
on("ui/notifications/tool-cancelled", (p) => {
  state.section?.replaceChildren(el("div", "card failure", `Cancelled${p.reason ? `: ${p.reason}` : ""}.`));
});
on("ui/notifications/host-context-changed", applyContext);
on("ui/resource-teardown", () => ({}));
on("ping", () => ({}));

connect().then((init) => {
  applyContext(init.hostContext);
  state.hostCaps = init.hostCapabilities || {};
  reportSize();
});
