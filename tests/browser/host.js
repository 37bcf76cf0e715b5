// The test host page's script: embeds the gallery in a sandboxed iframe through the official
// AppBridge, as Claude or VS Code would. Its MCP client lives in Node (run.mjs), reached through
// functions Playwright exposes, as a desktop host's client lives in its main process.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

window.seen = { calls: [], results: [] };

window.mount = async (html, theme, width) => {
  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.style.cssText = `width:${width}px;height:400px;border:0;display:block`;
  document.body.replaceChildren(iframe);
  const bridge = new AppBridge(
    null,
    { name: "seedream-test-host", version: "1.0.0" },
    { openLinks: {}, serverTools: {}, downloadFile: {} },
    { hostContext: { theme, platform: "web", containerDimensions: { maxWidth: width } } },
  );
  bridge.oncalltool = async (params) => {
    window.seen.calls.push(params);
    return JSON.parse(await window.hostCallTool(params.name, JSON.stringify(params.arguments || {})));
  };
  bridge.onsizechange = ({ height }) => { if (height) iframe.style.height = `${height}px`; };
  bridge.onopenlink = async () => ({});
  bridge.ondownloadfile = async () => ({});
  const ready = new Promise((resolve) => (bridge.oninitialized = resolve));
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  iframe.srcdoc = html;
  await ready;
  window.bridge = bridge;
};

window.sendInput = (args) => window.bridge.sendToolInput({ arguments: args });
window.sendResult = (json) => {
  const result = JSON.parse(json);
  window.seen.results.push(result);
  window.resultSentAt = Date.now();
  return window.bridge.sendToolResult(result);
};
