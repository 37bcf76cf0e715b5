// Drives seedream-mcp with the official TypeScript SDK (@modelcontextprotocol/sdk, pinned in
// package.json) and checks what comes back, the way a Node host would see it.
//
//   node client.mjs stdio LABEL -- COMMAND [ARG...]
//   node client.mjs http|stateless LABEL URL [--log FILE] [--modern]
//   node client.mjs sse LABEL URL [--log FILE]
//
// `--modern` uses the SDK's 2.x client (@modelcontextprotocol/client, pinned too) pinned to the
// stateless 2026-07-28 revision: @modelcontextprotocol/sdk 1.32.2 speaks up to 2025-11-25 only.
//
// The server talks to the fake API with a short SEEDREAM_WAIT_SECONDS (run.sh sets both).
// `--log` names the server's log (stderr), where a job that outlives its caller is recorded.
// Prints `ok <label> <check>` or `FAIL <label> <check>: <why>`; exits 1 if any failed.
import { readFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";

import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport as HttpV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, ElicitRequestSchema, LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

const TOOLS = ["edit_image", "generate_image", "generate_sequence", "get_job"];
const WAIT_S = Number(process.env.SEEDREAM_WAIT_SECONDS ?? "50");
const [kind, label, ...rest] = process.argv.slice(2);
const logIndex = rest.indexOf("--log");
const logFile = logIndex >= 0 ? rest[logIndex + 1] : undefined;
const modern = rest.includes("--modern");
const v2 = modern ? await import("@modelcontextprotocol/client") : null;
const Client = modern ? v2.Client : ClientV1;
const StreamableHTTPClientTransport = modern ? v2.StreamableHTTPClientTransport : HttpV1;
const clientOptions = modern ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : undefined;
let stderrLog = ""; // a stdio server's stderr, collected
let failed = 0;

async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok ts/${label} ${name} (${((Date.now() - started) / 1000).toFixed(2)} s)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ts/${label} ${name}: ${e?.message ?? e}`.slice(0, 600));
  }
}

function assert(cond, why) {
  if (!cond) throw new Error(why);
}

const textOf = (r) => r.content.filter((b) => b.type === "text").map((b) => b.text).join("\n");
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** A real PNG (a gradient) built here, so the reference image needs no fixture file. */
function tinyPngDataUri(width = 64, height = 48) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(0);
    for (let x = 0; x < width; x++) rows.push((x * 4) % 256, (y * 5) % 256, 128);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.from(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${png.toString("base64")}`;
}

/** Width and height of a JPEG, PNG or WebP from its bytes (null if not recognised). */
function dimensions(buf) {
  if (buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    let i = 2;
    while (i + 9 < buf.length) {
      if (buf[i] !== 0xff) return null;
      const marker = buf[i + 1];
      const len = buf.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return [buf.readUInt16BE(i + 7), buf.readUInt16BE(i + 5)];
      }
      i += 2 + len;
    }
  }
  return null;
}

function expectImages(r, want) {
  const text = textOf(r);
  assert(!r.isError, `isError: ${text.slice(0, 300)}`);
  const images = r.structuredContent?.images ?? [];
  assert(images.length === want, `${images.length} images, want ${want}: ${text.slice(0, 200)}`);
  const blocks = r.content.filter((b) => b.type === "image");
  assert(blocks.length === images.length, `${blocks.length} image blocks for ${images.length} images`);
  for (const b of blocks) assert(dimensions(Buffer.from(b.data, "base64")), `a ${b.mimeType} block does not decode`);
  return images;
}

/** The final result of a call: follows a job handle (a busy machine) with get_job. */
async function finished(client, r) {
  for (let i = 0; i < 8; i++) {
    const job = r.structuredContent;
    if (r.isError || job?.status !== "running" || !job?.job_id) return r;
    r = await client.callTool({ name: "get_job", arguments: { job_id: job.job_id, wait_seconds: 20 } });
  }
  return r;
}

/** The server log so far: a stdio server's stderr, or the file run.sh passes. */
function serverLog() {
  if (kind === "stdio") return stderrLog;
  try {
    return logFile ? readFileSync(logFile, "utf8") : "";
  } catch {
    return "";
  }
}

/** Waits up to `ms` for a log line matching `re` that was not there before (`skip` lines). */
async function awaitLog(re, skip, ms = 8000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const lines = serverLog().split("\n").slice(skip);
    const hit = lines.find((l) => re.test(l));
    if (hit) return hit;
    await sleep(100);
  }
  return null;
}

function transport() {
  if (kind === "stdio") {
    const command = rest.slice(rest.indexOf("--") + 1);
    const env = { ...getDefaultEnvironment() };
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith("SEEDREAM_") || k === "RUST_LOG" || /^no_proxy$/i.test(k)) env[k] = v;
    }
    const t = new StdioClientTransport({ command: command[0], args: command.slice(1), env, stderr: "pipe" });
    t.stderr?.on("data", (d) => {
      stderrLog += d.toString();
    });
    return t;
  }
  const url = new URL(rest[0]);
  return kind === "sse" ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url);
}

/** callTool with request options: the 1.x client takes a result schema first, 2.x does not. */
function call(client, params, options) {
  return modern ? client.callTool(params, options) : client.callTool(params, CallToolResultSchema, options);
}

async function connect() {
  const client = new Client({ name: "seedream-interop-ts", version: "1.0.0" }, clientOptions);
  const t = transport();
  await client.connect(t);
  return { client, t };
}

// Over the default cost confirmation threshold (0.50 USD): up to 15 images with 4.5.
const EXPENSIVE = { prompt: "[[fake:n=2]] fifteen panels", max_images: 15, model: "4.5" };

/** A client that declares form elicitation and answers every question with `action`. */
async function confirmingClient(action) {
  const options = { ...(clientOptions ?? {}), capabilities: { elicitation: { form: {} } } };
  const c = new Client({ name: "seedream-interop-ts", version: "1.0.0" }, options);
  const asked = [];
  const answer = async (request) => {
    const params = request?.params ?? request;
    asked.push(params?.message ?? "");
    return action === "accept" ? { action, content: { proceed: true } } : { action };
  };
  if (modern) c.setRequestHandler("elicitation/create", answer);
  else c.setRequestHandler(ElicitRequestSchema, answer);
  await c.connect(transport());
  return { c, asked };
}

/** An expensive call: refused naming confirm_cost without elicitation, asked with it. */
async function checkCostConfirmation(client) {
  await check("cost confirmation without elicitation", async () => {
    const r = await client.callTool({ name: "generate_sequence", arguments: EXPENSIVE });
    assert(r.isError && textOf(r).includes("`confirm_cost: true`"), `not refused: ${textOf(r).slice(0, 200)}`);
    const ok = await client.callTool({ name: "generate_sequence", arguments: { ...EXPENSIVE, confirm_cost: true } });
    assert(!ok.isError, `confirm_cost did not proceed: ${textOf(ok).slice(0, 200)}`);
  });
  for (const action of ["accept", "decline"]) {
    await check(`cost confirmation ${action}`, async () => {
      const { c, asked } = await confirmingClient(action);
      try {
        const r = await call(c, { name: "generate_sequence", arguments: EXPENSIVE }, { timeout: 30000 });
        if (kind === "stateless" && !modern) {
          // A 2025-11-25 client of a server without sessions cannot be asked (its answer would
          // have no session to reach): it is refused at once, naming the argument.
          assert(asked.length === 0 && r.isError && textOf(r).includes("`confirm_cost: true`"), `not refused: ${textOf(r).slice(0, 200)}`);
          return;
        }
        assert(asked.length === 1 && asked[0].includes("0.60 USD"), `asked: ${JSON.stringify(asked)}`);
        if (action === "accept") assert(!r.isError, `accepted but: ${textOf(r).slice(0, 200)}`);
        else assert(r.isError && textOf(r).includes("declined"), `declined but: ${textOf(r).slice(0, 200)}`);
      } finally {
        await c.close();
      }
    });
  }
}

async function main() {
  const { client, t } = await connect();
  const png = tinyPngDataUri();
  const overHttp = kind !== "stdio";
  const stateless = kind === "stateless";

  await check("protocol", async () => {
    const v = client.getServerVersion();
    assert(v?.name === "seedream-mcp", `server ${JSON.stringify(v)}`);
    if (kind === "http") assert(t.sessionId, "no Mcp-Session-Id over session HTTP");
    if (stateless) assert(!t.sessionId, `a session id ${t.sessionId} in stateless mode`);
    if (modern) assert(client.getNegotiatedProtocolVersion() === "2026-07-28", `negotiated ${client.getNegotiatedProtocolVersion()}`);
  });

  await check("tools/list", async () => {
    const { tools } = await client.listTools();
    assert(JSON.stringify(tools.map((x) => x.name).sort()) === JSON.stringify(TOOLS), `tools ${tools.map((x) => x.name)}`);
  });

  await check("generate_image", async () => {
    const r = await finished(client, await client.callTool({ name: "generate_image", arguments: { prompt: "a red fox" } }));
    expectImages(r, 1);
  });

  await check("edit_image", async () => {
    const r = await client.callTool({ name: "edit_image", arguments: { prompt: "make it snow", images: [png] } });
    expectImages(await finished(client, r), 1);
  });

  await check("generate_sequence (count read from the prompt)", async () => {
    const r = await client.callTool({
      name: "generate_sequence",
      arguments: { prompt: "4 panels of a cat's day", max_images: 4 },
    });
    expectImages(await finished(client, r), 4);
  });

  await checkCostConfirmation(client);

  await check("get_job (a call slower than the wait answers with a job)", async () => {
    const slow = Math.round((WAIT_S + 1) * 1000);
    const r = await client.callTool({ name: "generate_image", arguments: { prompt: `[[fake:slow=${slow}]] an owl` } });
    const job = r.structuredContent;
    assert(job?.status === "running" && job?.job_id, `no job handle: ${textOf(r).slice(0, 200)}`);
    expectImages(await finished(client, r), 1);
  });

  await check("tool error (empty prompt)", async () => {
    const r = await client.callTool({ name: "generate_image", arguments: { prompt: "" } });
    assert(r.isError && /Nothing was sent/i.test(textOf(r)), textOf(r).slice(0, 200));
  });

  if (overHttp) {
    await check("b64_json over HTTP keeps the full image reachable", async () => {
      const r = await finished(
        client,
        await client.callTool({ name: "generate_image", arguments: { prompt: "a lighthouse", response_format: "b64_json" } }),
      );
      assert(!r.isError, textOf(r).slice(0, 300));
      const meta = r.structuredContent?.images?.[0];
      assert(meta?.width && meta?.height, `no image metadata: ${JSON.stringify(r.structuredContent).slice(0, 200)}`);
      const full = [];
      for (const b of r.content) {
        if (b.type === "image") full.push(Buffer.from(b.data, "base64"));
        if (b.type === "resource_link" || b.type === "resource") {
          const uri = b.uri ?? b.resource?.uri;
          const read = await client.readResource({ uri });
          for (const c of read.contents) if (c.blob) full.push(Buffer.from(c.blob, "base64"));
        }
      }
      const sizes = full.map(dimensions).filter(Boolean);
      assert(
        sizes.some(([w, h]) => w === meta.width && h === meta.height),
        `no ${meta.width}x${meta.height} image among the blocks and resources (${JSON.stringify(sizes)}): ${textOf(r).slice(0, 200)}`,
      );
    });
  }

  await check("a client timeout keeps the job and get_job returns it", async () => {
    const skip = serverLog().split("\n").length - 1;
    const slow = Math.round(Math.min(WAIT_S - 1, 3) * 1000);
    let timedOut = false;
    try {
      await call(client, { name: "generate_image", arguments: { prompt: `[[fake:slow=${slow}]] a slow heron` } }, { timeout: 800 });
    } catch (e) {
      timedOut = /timed out/i.test(String(e?.message));
    }
    assert(timedOut, "the call did not time out on the client");
    const line = await awaitLog(/the job goes on/, skip);
    assert(line, "the server log does not say the job goes on");
    const id = /job[=:]\s*"?([0-9a-zA-Z_-]{16,})/.exec(line)?.[1];
    assert(id, `no job id in: ${line}`);
    const r = await finished(client, await client.callTool({ name: "get_job", arguments: { job_id: id, wait_seconds: 20 } }));
    expectImages(r, 1);
  });

  // A 2026-07-28 client aborts by closing its request stream, which a client timeout does too:
  // the server cannot tell them apart, so a call already sent upstream (and so possibly billed)
  // goes on and keeps its images, and one still waiting for an upstream slot is stopped (README,
  // "Long calls"). Every other client sends notifications/cancelled, which stops the call.
  const closesStream = modern;
  await check(
    closesStream
      ? "an AbortSignal after the call went upstream keeps the paid generation (2026-07-28: a closed stream)"
      : "an AbortSignal cancels the call",
    async () => {
      const skip = serverLog().split("\n").length - 1;
      const controller = new AbortController();
      const pending = call(
        client,
        { name: "generate_image", arguments: { prompt: "[[fake:slow=4000]] a slow crane" } },
        { signal: controller.signal },
      );
      await sleep(500);
      controller.abort("the user pressed stop");
      let aborted = false;
      try {
        await pending;
      } catch {
        aborted = true;
      }
      assert(aborted, "the call was not rejected");
      const expected = closesStream ? /the job goes on/ : /cancelled by the caller/;
      const line = await awaitLog(expected, skip);
      assert(line, `the server log does not say ${closesStream ? "the job goes on" : "the job was cancelled"}`);
    },
  );

  if (kind === "http" && !modern) {
    await check("resume after a dropped stream delivers no event twice", async () => {
      let token;
      const before = []; // [progressToken, progress] of every progress message, as received
      const request = {
        method: "tools/call",
        params: { name: "generate_sequence", arguments: { prompt: "[[fake:n=3,slow=700]] three panels", max_images: 3 } },
      };
      const sessionId = t.sessionId;
      const tap = (transport, into) => {
        const handler = transport.onmessage;
        transport.onmessage = (m, extra) => {
          if (m.method === "notifications/progress") into.push([m.params.progressToken, m.params.progress]);
          handler?.(m, extra);
        };
      };
      tap(t, before);
      // The connection drops after the first progress event (each carries an event id).
      let firstSeen;
      const first = new Promise((res) => {
        firstSeen = res;
      });
      const call = client
        .request(request, CallToolResultSchema, {
          onprogress: () => firstSeen(),
          onresumptiontoken: (tk) => {
            token = tk;
          },
          timeout: 30000,
        })
        .catch(() => null);
      await first;
      await sleep(200);
      await t.close();
      await call;
      assert(token, "no resumption token (event id) was received");
      const last = before[before.length - 1];
      // A transport with the session id reconnects without a new handshake.
      const again = new Client({ name: "seedream-interop-ts", version: "1.0.0" });
      again.onerror = () => {}; // progress for the old request's token is reported here
      const t2 = new StreamableHTTPClientTransport(new URL(rest[0]), { sessionId });
      await again.connect(t2);
      const after = [];
      tap(t2, after);
      const r = await again.request(request, CallToolResultSchema, { resumptionToken: token, timeout: 30000 });
      expectImages(await finished(again, r), 3);
      const replays = after.filter(([tk, p]) => tk === last[0] && p === last[1]).length;
      assert(replays === 0, `the last delivered event (progress ${last[1]}) came again ${replays} time(s) after resuming`);
      await again.close();
    });
  }

  await client.close();
}

try {
  await main();
} catch (e) {
  failed += 1;
  console.log(`FAIL ts/${label} connection: ${e?.stack ?? e}`.slice(0, 800));
}
console.error(`(SDK protocol ${LATEST_PROTOCOL_VERSION})`);
process.exit(failed ? 1 : 0);
