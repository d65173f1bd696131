/**
 * Formats rows as a plain-text table with a header, columns padded to their widest cell. Every
 * cell is escaped (escapeCell): a value from a request — a model name in the request log —
 * must never move the cursor, hide text or start a fake row.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = header.map(escapeCell);
  const body = rows.map((r) => r.map(escapeCell));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(head), ...body.map(line)].join("\n");
}

/**
 * What a terminal must not be handed raw: C0 controls (CR, LF, ESC for ANSI sequences, NUL),
 * DEL, C1 controls (U+009B is a one-byte CSI), the line and paragraph separators, and the
 * bidirectional overrides that reorder what is shown (CVE-2021-42574, "Trojan Source").
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to escape.
const UNSAFE = /[\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const SHORT: Readonly<Record<string, string>> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A cell as a table shows it: each unsafe character as \n, \r, \t or \uXXXX, and "\" as "\\" (so escapes stay unambiguous). */
export function escapeCell(text: string): string {
  return text.replace(UNSAFE, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** An epoch-ms time as `YYYY-MM-DD HH:MM` UTC, or `-`. */
export function formatTime(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}
