// The gallery in a real browser: headless Chromium loads host.html, which embeds the gallery
// (read from the server with resources/read) through the official AppBridge; tool calls go to
// the real seedream-mcp over HTTP, which calls the stand-in API (seedream-fake).
// Usage: node run.mjs <seedream-mcp> <seedream-fake> <shots-dir>   (run.sh passes them)
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const [bin, fakeBin, shots] = process.argv.slice(2);
const work = mkdtempSync(join(tmpdir(), "seedream-gallery-"));
mkdirSync(shots, { recursive: true });
const children = [];
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed++;
};

/** Starts `cmd` and resolves with the first match of `pattern` in its output. */
function start(cmd, args, env, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let log = "";
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start:\n${log}`)), 20000);
    const read = (d) => {
      log += d;
      const m = log.match(pattern);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
  });
}

async function main() {
  const api = await start(fakeBin, ["--listen", "127.0.0.1:0", "--api-key", "test-key"], {}, /http:\/\/127\.0\.0\.1:\d+\/v1/);
  const mcpUrl = await start(bin, ["http", "--listen", "127.0.0.1:0"], {
    SEEDREAM_BASE_URL: api, SEEDREAM_API_KEY: "test-key", SEEDREAM_OUTPUT_DIR: join(work, "images"), SEEDREAM_WAIT_SECONDS: "20",
  }, /http:\/\/127\.0\.0\.1:\d+\/mcp/);

  const client = new Client({ name: "seedream-test-host", version: "1.0.0" }, {
    capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } } },
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  check(byName.get_image?._meta?.ui?.visibility?.[0] === "app", "get_image is listed as app-only");
  check(byName.generate_image?._meta?.ui?.resourceUri === "ui://seedream/gallery", "generate_image links the gallery");
  const page0 = await client.readResource({ uri: "ui://seedream/gallery" });
  const html = page0.contents[0].text;
  check(page0.contents[0].mimeType === "text/html;profile=mcp-app", `gallery resource (${html.length} bytes)`);

  const hostJs = await build({ entryPoints: [new URL("host.js", import.meta.url).pathname], bundle: true, format: "iife", write: false });
  const hostHtml = join(work, "host.html");
  writeFileSync(hostHtml, `<!doctype html><meta charset="utf-8"><body style="margin:0"></body><script>${hostJs.outputFiles[0].text}</script>`);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const calls = [];
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    page.on("pageerror", (e) => check(false, `page error: ${e.message}`));
    await page.exposeFunction("hostCallTool", async (name, argsJson) => {
      const args = JSON.parse(argsJson);
      calls.push({ name, args });
      return JSON.stringify(await client.callTool({ name, arguments: args }));
    });
    await page.goto(`file://${hostHtml}`);
    const ctx = { page, client, html, calls };
    await scenario(ctx, "single", "generate_image", { prompt: "a red fox in snow" }, 1, 0, "light", 900);
    await editThis(ctx);
    await scenario(ctx, "sequence", "generate_sequence", { prompt: "[[fake:n=4]] four seasons of one tree", max_images: 4 }, 4, 0, "dark", 900);
    await scenario(ctx, "partial", "generate_sequence", { prompt: "[[fake:n=4,partial_sensitive=1]] four panels", max_images: 4 }, 3, 1, "light", 900);
    await scenario(ctx, "narrow", "generate_sequence", { prompt: "[[fake:n=2]] two cats", max_images: 2 }, 2, 0, "dark", 320);
  } finally {
    await browser.close();
  }
  console.log(`browser: ${failed ? `${failed} failed` : "all passed"}; screenshots in ${shots}`);
}

const frame = (page) => page.frameLocator("iframe");

async function scenario({ page, client, html, calls }, name, tool, args, images, failures, theme, width) {
  await page.setViewportSize({ width, height: 900 });
  await page.evaluate(([h, t, w]) => window.mount(h, t, w), [html, theme, width]);
  await page.evaluate((a) => window.sendInput(a), args);
  const placeholders = await frame(page).locator(".placeholder").count();
  check(placeholders === Math.max(1, args.max_images || 1), `${name}: ${placeholders} placeholders while the call runs`);
  await page.screenshot({ path: join(shots, `${name}-1-placeholders.png`), fullPage: true });

  const result = await client.callTool({ name: tool, arguments: args });
  const visible = JSON.stringify(result.structuredContent || {});
  check(!/base64|data:image/.test(visible), `${name}: no base64 in structuredContent`);
  const before = calls.length;
  await page.evaluate((r) => window.sendResult(r), JSON.stringify(result));
  const app = frame(page);
  await app.locator("body[data-painted-at]").waitFor({ timeout: 60000 });
  const decoded = await app.locator(".card img").evaluateAll((imgs) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length);
  check(decoded === images, `${name}: ${decoded} of ${images} images decoded (naturalWidth > 0)`);
  const fetched = calls.slice(before).filter((c) => c.name === "get_image").length;
  check(fetched === images, `${name}: every image's pixels came through get_image (${fetched})`);
  const facts = (await app.locator(".facts").first().textContent()) || "";
  const cost = result.structuredContent?.cost;
  check(cost?.estimated == null || facts.includes(`${cost.estimated} ${cost.currency}`), `${name}: the estimated cost is shown (${facts})`);
  check(!/\d\.\d{7,}/.test(facts), `${name}: no float noise in the facts (${facts})`);
  const failureCards = await app.locator(".card.failure").count();
  check(failureCards === failures, `${name}: ${failureCards} failure card(s)`);
  const paintedAt = Number(await app.locator("body").getAttribute("data-painted-at"));
  const sentAt = await page.evaluate(() => window.resultSentAt);
  console.log(`     ${name}: first paint ${paintedAt - sentAt} ms (result in bridge -> all ${images} decoded)`);
  // The target is 300 ms for four images (release build); only a gross regression fails here,
  // since a shared CI machine or a debug build is slower.
  check(paintedAt - sentAt < 2000, `${name}: first paint under 2 s`);
  await page.screenshot({ path: join(shots, `${name}-2-gallery.png`), fullPage: true });
  return paintedAt - sentAt;
}

async function editThis({ page, calls }) {
  const app = frame(page);
  const first = calls.filter((c) => c.name === "get_image").at(-1);
  await app.locator("button", { hasText: "Edit this" }).first().click();
  await app.locator(".edit input").fill("make it a watercolor");
  await app.locator(".edit button").click();
  await app.locator(".result").nth(1).waitFor({ state: "attached" }).catch(async (e) => { await page.screenshot({ path: join(shots, "debug.png"), fullPage: true }); console.log(JSON.stringify(calls.map((c) => c.name))); throw e; });
  const newest = app.locator(".result").first();
  for (let i = 0; i < 600; i++) {
    const ready = await newest.locator(".card img").evaluateAll((imgs) => imgs.some((x) => x.naturalWidth > 0));
    if (ready || (await newest.locator(".card.failure").count())) break;
    await page.waitForTimeout(100);
  }
  const edit = calls.find((c) => c.name === "edit_image");
  const ref = edit?.args?.images?.[0] || "";
  check(edit && ref.length > 0 && first.args.uri.endsWith(ref.split("/").pop()), `Edit this: edit_image with image 1 as reference (${ref})`);
  const loaded = await app.locator(".result").first().locator(".card img").evaluateAll((i) => i.filter((x) => x.naturalWidth > 0).length);
  check(loaded === 1, "Edit this: the edited image renders");
  await page.screenshot({ path: join(shots, "single-3-edited.png"), fullPage: true });
}

main()
  .catch((e) => { console.error(e); failed++; })
  .finally(() => {
    for (const c of children) c.kill("SIGTERM");
    process.exit(failed ? 1 : 0);
  });
