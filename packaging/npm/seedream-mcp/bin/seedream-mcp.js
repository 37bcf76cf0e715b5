#!/usr/bin/env node
// Starts the native seedream-mcp binary from the platform package npm installed beside this one
// (one optional dependency per OS and CPU; npm installs only the one that matches). Arguments,
// environment, stdin/stdout/stderr and the exit status pass through untouched: the binary reads
// and writes the process's own file descriptors, so MCP's stdio stream never goes through Node.
"use strict";

const { spawn } = require("node:child_process");
const path = require("node:path");

const executable = process.platform === "win32" ? "seedream-mcp.exe" : "seedream-mcp";
// Windows on Arm runs the x64 binary under emulation; its package lists arm64 too.
const candidates = [`${process.platform}-${process.arch}`];
if (process.platform === "win32" && process.arch === "arm64") candidates.push("win32-x64");

function binaryPath() {
  for (const platform of candidates) {
    try {
      const manifest = require.resolve(`@seedream-mcp/${platform}/package.json`);
      return path.join(path.dirname(manifest), "bin", executable);
    } catch {
      // Not installed: try the next candidate.
    }
  }
  process.stderr.write(
    `seedream-mcp: no prebuilt binary for ${process.platform}-${process.arch}: the optional ` +
      `dependency @seedream-mcp/${candidates[0]} is not installed.\n` +
      "Reinstall without --omit=optional / --no-optional (npx -y seedream-mcp does this), or, on " +
      "a platform without a prebuilt binary, install from source: cargo install seedream-mcp\n",
  );
  process.exit(1);
}

const binary = binaryPath();
const child = spawn(binary, process.argv.slice(2), { stdio: "inherit", windowsHide: true });

// A client stops a stdio server with a signal as often as by closing stdin: hand it on, and let
// the binary decide how to shut down. Node's default would end the launcher and orphan the binary.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}

child.on("error", (err) => {
  process.stderr.write(`seedream-mcp: cannot start ${binary}: ${err.message}\n`);
  process.exit(1);
});

child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so the caller sees what the binary saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
