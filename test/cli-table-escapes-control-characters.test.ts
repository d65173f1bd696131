import assert from "node:assert/strict";
import { test } from "node:test";
import { escapeCell, formatTable } from "../lib/cli/table.js";

// A value stored before names were checked (or any text a table shows) must not move the
// cursor, hide text or start a fake row: every CLI table prints control characters escaped.

test("control characters in a cell are printed escaped, one row per row", () => {
  const out = formatTable(
    ["USER", "MODEL", "REQUESTS"],
    [
      ["alice", "llama3\r\n2026-01-01 bob llama3 999", "1"],
      ["bob", "\u001b[8mhidden\u001b[0m", "2"],
      ["carol", "nul\u0000 del\u007f csi\u009b2K", "3"],
      ["dave", "tab\there \u202eevil\u2028next", "4"],
      ["erin", String.raw`a\nb`, "5"],
    ],
  );
  const lines = out.split("\n");
  assert.equal(lines.length, 6, out);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the test.
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202e]/.test(out), JSON.stringify(out));
  assert.equal(lines[1], String.raw`alice  llama3\r\n2026-01-01 bob llama3 999  1`);
  assert.equal(lines[2], String.raw`bob    \u001b[8mhidden\u001b[0m             2`);
  assert.equal(lines[3], String.raw`carol  nul\u0000 del\u007f csi\u009b2K      3`);
  assert.equal(lines[4], String.raw`dave   tab\there \u202eevil\u2028next       4`);
  // A backslash is doubled, so a literal "\n" cannot pass for an escaped newline.
  assert.equal(lines[5], String.raw`erin   a\\nb                                5`);
});

test("escapeCell leaves ordinary text alone", () => {
  for (const text of ["llama3:8b", "hf.co/user/repo:Q4_K_M", "Zoë 日本語 🦙", "2026-01-01 10:00", ""]) {
    assert.equal(escapeCell(text), text);
  }
});
