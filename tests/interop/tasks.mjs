// Drives seedream-mcp with the official TypeScript Tasks client (@modelcontextprotocol/ext-tasks,
// pinned in package.json) on top of the SDK's 2.x client, the way a task-aware Node host would:
// a session from `createTaskSessionFromClient`, `session.callTool`, `execution.settle()`.
//
//   node tasks.mjs http LABEL URL [--log FILE] [--legacy]
//   node tasks.mjs stdio LABEL -- COMMAND [ARG...]
//
// By default the client is pinned to the 2026-07-28 revision, where the server offers the Tasks
// extension (SEP-2663) in `server/discover`. The package needs the host's own request
// coordinator (`rawDispatch`) there, because the SDK's codec refuses a `tools/call` answered with
// `resultType: "task"` ("Unsupported result type 'task' for tools/call"); the one below sends
// over the SDK's transport with ids of its own and takes their answers before the SDK sees them,
// and records every answer, so a check can show what came over the wire.
// `--legacy` negotiates 2025-11-25, where the package speaks that revision's own tasks (the
// `tasks` server capability, `tasks/result`), which this server does not offer: calls there
// are plain calls, and a slow one answers with a job handle for get_job, as for any client.
//
// `--log` names the server's log (stderr); a stdio server's stderr is collected.
// Prints `ok <label> <check>` or `FAIL <label> <check>: <why>`; exits 1 if any failed.
import { readFileSync } from "node:fs";

import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/client/stdio";
import {
  createTaskSessionFromClient,
  resultFromTaskOutcome,
  TaskCancelledError,
} from "@modelcontextprotocol/ext-tasks/client";

const MODERN = "2026-07-28";
const WAIT_S = Number(process.env.SEEDREAM_WAIT_SECONDS ?? "50");
const [kind, label, ...rest] = process.argv.slice(2);
const logIndex = rest.indexOf("--log");
const logFile = logIndex >= 0 ? rest[logIndex + 1] : undefined;
const legacy = rest.includes("--legacy");
const clientInfo = { name: "seedream-interop-ext-tasks", version: "1.0.0" };
let stderrLog = ""; // a stdio server's stderr, collected
let failed = 0;

async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok ext-tasks/${label} ${name} (${((Date.now() - started) / 1000).toFixed(2)} s)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ext-tasks/${label} ${name}: ${e?.message ?? e}`.slice(0, 800));
  }
}

function assert(cond, why) {
  if (!cond) throw new Error(why);
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const textOf = (r) => (r?.content ?? []).filter((b) => b.type === "text").map((b) => b.text).join("\n");
const short = (v) => JSON.stringify(v)?.slice(0, 300);

function expectImages(r, want) {
  assert(r && !r.isError, `isError: ${textOf(r).slice(0, 300)}`);
  const images = r.structuredContent?.images ?? [];
  assert(images.length === want, `${images.length} images, want ${want}: ${textOf(r).slice(0, 200)}`);
  const blocks = r.content.filter((b) => b.type === "image");
  assert(blocks.length === want, `${blocks.length} image blocks for ${want} images`);
  for (const b of blocks) assert(Buffer.from(b.data, "base64").length > 100, `an empty ${b.mimeType} block`);
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

/** Waits up to `ms` for a server log line matching `re`. */
async function awaitLog(re, ms = 8000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const hit = serverLog().split("\n").find((l) => re.test(l));
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
  return new StreamableHTTPClientTransport(new URL(rest[0]));
}

/**
 * The host's request coordinator (`rawDispatch`): sends a request over the connected transport
 * with an id of its own and takes the answer with that id before the SDK client sees it. Every
 * exchange is recorded in `wire` ([request, answer]).
 */
function coordinator(t, wire) {
  const pending = new Map();
  let next = 0;
  const inner = t.onmessage;
  t.onmessage = (message, extra) => {
    const waiting = message && !("method" in message) && pending.get(message.id);
    if (waiting) {
      pending.delete(message.id);
      waiting(message);
      return;
    }
    inner?.(message, extra);
  };
  return async (request, options = {}) => {
    const id = `ext-tasks-${++next}`;
    const message = { jsonrpc: "2.0", id, ...request };
    const answer = new Promise((resolve, reject) => {
      pending.set(id, resolve);
      options.signal?.addEventListener("abort", () => {
        pending.delete(id);
        reject(options.signal.reason ?? new Error("aborted"));
      });
    });
    await t.send(message);
    const response = await answer;
    wire.push([message, response]);
    return "error" in response ? { kind: "error", error: response.error } : { kind: "result", result: response.result };
  };
}

async function main() {
  const pin = legacy ? "2025-11-25" : MODERN;
  const client = new Client(clientInfo, { versionNegotiation: { mode: legacy ? "legacy" : { pin } } });
  const t = transport();
  await client.connect(t);
  const wire = [];
  const session = createTaskSessionFromClient(client, {
    endpointId: `seedream-interop-${label}`,
    ...(legacy
      ? {}
      : {
          rawDispatch: coordinator(t, wire),
          v2RequestFraming: { protocolVersion: MODERN, clientInfo, clientCapabilities: {} },
        }),
  });
  /** The answer to the tools/call that started the task with this id. */
  const creation = (taskId) =>
    wire.find(([q, a]) => q.method === "tools/call" && a.result?.taskId === taskId)?.[1]?.result;

  await check(`negotiates ${pin}${legacy ? " (the server offers no 2025-11-25 tasks)" : " and the Tasks extension"}`, async () => {
    assert(client.getNegotiatedProtocolVersion() === pin, `negotiated ${client.getNegotiatedProtocolVersion()}`);
    const ext = client.getServerCapabilities()?.extensions?.["io.modelcontextprotocol/tasks"];
    assert(ext && typeof ext === "object", `no tasks extension in ${short(client.getServerCapabilities())}`);
    if (!legacy) {
      assert(session.capabilities.execution && session.capabilities.cancellation, `capabilities ${short(session.capabilities)}`);
    } else {
      // The package reads 2025-11-25's own `tasks` capability in that era.
      assert(!session.capabilities.execution, `capabilities ${short(session.capabilities)}`);
    }
  });

  await check("a quick generate_image answers at once (no task)", async () => {
    const execution = await session.callTool("generate_image", { prompt: "a red fox" });
    assert(execution.kind === "immediate", `kind ${execution.kind} ${short(execution.handle)}`);
    const { outcome } = await execution.settle();
    expectImages(resultFromTaskOutcome(outcome), 1);
  });

  if (legacy) {
    await check("a slow generate_image is a plain call that answers with a job for get_job", async () => {
      const slow = Math.round((WAIT_S + 1) * 1000);
      const execution = await session.callTool("generate_image", { prompt: `[[fake:slow=${slow}]] an owl` });
      assert(execution.kind === "immediate", `kind ${execution.kind}`);
      const first = resultFromTaskOutcome((await execution.settle()).outcome);
      const job = first.structuredContent;
      assert(job?.status === "running" && job?.job_id, `no job handle: ${textOf(first).slice(0, 200)}`);
      const r = await client.callTool({ name: "get_job", arguments: { job_id: job.job_id, wait_seconds: 20 } });
      expectImages(r, 1);
    });
    await check("preference require refuses before sending (no task generation)", async () => {
      let why = "";
      try {
        await session.callTool("generate_image", { prompt: "a fox" }, { task: { preference: "require" } });
      } catch (e) {
        why = String(e?.message);
      }
      assert(/required but is unavailable/.test(why), `got ${why || "a call"}`);
    });
  } else {
    await check("a slow generate_image runs as a task and settles to the tool's result", async () => {
      const started = Date.now();
      const execution = await session.callTool("generate_image", { prompt: "[[fake:slow=3000]] a slow owl" });
      assert(execution.kind === "task", `kind ${execution.kind}: an immediate result`);
      const taskId = execution.handle.taskId;
      const created = creation(taskId);
      assert(created?.resultType === "task" && created?.status === "working", `tools/call answered ${short(created)}`);
      assert(created.pollIntervalMs > 0 && created.ttlMs > 0, `no pollIntervalMs/ttlMs in ${short(created)}`);
      const seen = [];
      const messages = [];
      const { outcome, lastTask } = await execution.settle({
        onEvent: (e) => {
          seen.push(e.type === "task" ? e.task.status : `outcome:${e.outcome.status}`);
          if (e.type === "task" && e.task.status === "working") messages.push(e.task.statusMessage);
        },
      });
      assert(seen[0] === "working", `events ${seen.join(" → ")}`);
      assert(messages.every((m) => /generat|download|saving/.test(m ?? "")), `working status messages ${short(messages)}`);
      assert(outcome.status === "completed", `outcome ${outcome.status} ${outcome.error?.message ?? ""}`);
      assert(lastTask?.taskId === taskId && lastTask?.status === "completed", `last task ${short(lastTask)}`);
      const polls = wire.filter(([q]) => q.method === "tasks/get" && q.params?.taskId === taskId).length;
      assert(polls >= 1, "no tasks/get was sent");
      const r = resultFromTaskOutcome(outcome);
      assert(r.isError === false, `isError ${r.isError}`);
      expectImages(r, 1);
      assert(Date.now() - started >= 2500, `settled after ${Date.now() - started} ms, before the upstream answered`);
      // The task is the job: get_job (a plain call) reads it by the task id.
      const job = await client.callTool({ name: "get_job", arguments: { job_id: taskId } });
      expectImages(job, 1);
      console.log(`   task ${taskId}: events ${seen.join(" → ")}, ${polls} tasks/get`);
    });

    await check("cancelling a task execution ends it cancelled and stops the job", async () => {
      const execution = await session.callTool("generate_image", { prompt: "[[fake:slow=30000]] a very slow heron" });
      assert(execution.kind === "task", `kind ${execution.kind}: an immediate result`);
      const taskId = execution.handle.taskId;
      await execution.cancel();
      const { outcome } = await execution.settle();
      assert(outcome.status === "cancelled", `outcome ${outcome.status}`);
      let thrown;
      try {
        resultFromTaskOutcome(outcome);
      } catch (e) {
        thrown = e;
      }
      assert(thrown instanceof TaskCancelledError, `resultFromTaskOutcome: ${thrown ?? "no error"}`);
      const cancels = wire.filter(([q]) => q.method === "tasks/cancel" && q.params?.taskId === taskId);
      assert(cancels.length === 1 && "result" in cancels[0][1], `tasks/cancel exchanges: ${short(cancels)}`);
      // A fresh read through the package (a detached controller) says cancelled too.
      const view = await session.task(taskId).snapshot();
      assert(view.status === "cancelled", `tasks/get after the cancel: ${view.status}`);
      const line = await awaitLog(new RegExp(`cancelled by tasks/cancel.*${taskId}|${taskId}.*cancelled by tasks/cancel`));
      assert(line, "the server log does not say the job was cancelled by tasks/cancel");
    });
  }

  await session.close();
  await client.close();
}

try {
  await main();
} catch (e) {
  failed += 1;
  console.log(`FAIL ext-tasks/${label} connection: ${e?.stack ?? e}`.slice(0, 800));
}
process.exit(failed ? 1 : 0);
