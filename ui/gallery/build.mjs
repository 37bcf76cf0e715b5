// Builds the gallery into one self-contained HTML document (inline script and styles, nothing
// fetched) at assets/gallery.html, which the server embeds with include_str!.
// Run: npm ci && node build.mjs   (from ui/gallery)
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";

const here = (p) => new URL(p, import.meta.url);
const js = await build({
  entryPoints: [here("src/gallery.js").pathname],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  write: false,
});
const css = await build({
  entryPoints: [here("src/gallery.css").pathname],
  minify: true,
  write: false,
});
const code = (r) => r.outputFiles[0].text.trim();
// `</script` inside the code would end the element early.
const script = code(js).replaceAll("</script", "<\\/script");
const html = readFileSync(here("src/index.html"), "utf8")
  .replace("/*CSS*/", () => code(css))
  .replace("/*JS*/", () => script);
writeFileSync(here("../../assets/gallery.html"), html);
console.log(`assets/gallery.html: ${html.length} bytes`);
