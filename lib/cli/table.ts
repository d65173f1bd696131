/**
 * Formats rows as a plain-text table with a header, columns padded to their widest cell
 * (`right`: the columns aligned right, for numbers). Every cell is escaped (escapeCell): a
 * value from a request — a model name in the request log — must never move the cursor, hide
 * text or start a fake row.
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  opts: { right?: ReadonlySet<number> } = {},
): string {
  const head = header.map(escapeCell);
  const body = rows.map((r) => r.map(escapeCell));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        if (opts.right?.has(i)) return c.padStart(w);
        return i === cells.length - 1 ? c : c.padEnd(w);
      })
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

/** An epoch-ms time as ISO 8601 UTC to the second (`2026-03-01T09:12:45Z`), or `-`. */
export function formatIso(ms: number | null): string {
  return ms === null ? "-" : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** An integer with thousands separators, for people: `118,734`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Milliseconds for people: `850 ms`, `1.24 s`, `3m 05s`, `2h 07m`, or `-`. */
export function formatMs(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  const m = Math.round(s / 60);
  if (m < 48 * 60) return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(m / 1440)}d ${String(Math.floor((m % 1440) / 60)).padStart(2, "0")}h`;
}

/** Gigabytes for people: `4.1 GB`, `0.35 GB`, `40 GB`. */
export function formatGb(gb: number): string {
  const rounded = gb >= 10 ? Math.round(gb) : gb >= 1 ? Math.round(gb * 10) / 10 : Math.round(gb * 100) / 100;
  return `${rounded} GB`;
}
