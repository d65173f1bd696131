// A licence text as the body of a copyright-format 1.0 field: every line indented by one
// space, blank lines as " .". A full Apache License 2.0 inside it (Node.js quotes it for
// OpenSSL and LIEF; prom-client ships it) becomes a pointer to Debian's copy, as policy §12.5
// asks of licences in /usr/share/common-licenses.
// As a command: node license-text.mjs < LICENSE > field-body
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const APACHE_POINTER = "[the Apache License 2.0: on Debian systems, /usr/share/common-licenses/Apache-2.0]";

/** Formats `text` for a copyright file; see the file's comment. */
export function asCopyrightField(text) {
  const lines = text.replaceAll("\r", "").split("\n");
  const out = [];
  let skipping = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trimEnd();
    if (skipping) {
      // The terms end here; the "APPENDIX: How to apply" boilerplate after them stays.
      if (/END OF TERMS AND CONDITIONS/.test(line)) skipping = false;
      continue;
    }
    if (/^\s*Apache License$/.test(line) && /Version 2\.0, January 2004/.test(lines[i + 1] ?? "")) {
      out.push(`${/^\s*/.exec(line)[0].slice(0, 4)}${APACHE_POINTER}`);
      skipping = true;
      continue;
    }
    out.push(line);
  }
  while (out.length > 0 && out.at(-1).trim() === "") out.pop();
  return out.map((l) => (l.trim() === "" ? " ." : ` ${l}`)).join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${asCopyrightField(readFileSync(0, "utf8"))}\n`);
}
