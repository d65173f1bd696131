const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** One or more `<number><unit>` parts: `90s`, `15m`, `1h30m`, `2w`. */
const DURATION = /^(?:\d+(?:\.\d+)?[smhdw])+$/;
const PART = /(\d+(?:\.\d+)?)([smhdw])/g;

/** Parses `90s`, `15m`, `24h`, `30d`, `2w` (or a sum such as `1h30m`) into milliseconds; null when it is not one of those. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (!DURATION.test(t)) return null;
  let seconds = 0;
  for (const [, n, unit] of t.matchAll(PART)) seconds += Number(n) * (UNITS[unit!] ?? Number.NaN);
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : null;
}

/** What `parseSignedDuration` made of its text: a length of time, and whether it was written with a minus. */
export type SignedDuration = { readonly ms: number; readonly negative: boolean };

/** Like parseDuration, with an optional leading `-` or `+` (`-5m`), which the caller decides the meaning of. */
export function parseSignedDuration(text: string): SignedDuration | null {
  const t = text.trim();
  const sign = t[0] === "-" || t[0] === "+" ? t[0] : "";
  const ms = parseDuration(t.slice(sign.length));
  return ms === null ? null : { ms, negative: sign === "-" };
}

/**
 * A point in time as the CLI takes it (`--since`, `--until`): a duration ago (`24h`, or `-24h`
 * as journalctl writes it: both mean 24 hours ago), `now`, or an ISO 8601 date or date-time
 * (`2026-03-01`, `2026-03-01T09:00`, `2026-03-01 09:00:00Z`; UTC unless it carries an offset).
 * Returns epoch milliseconds, or null when the text is none of those.
 */
export function parseTimePoint(text: string, now: number): number | null {
  const t = text.trim();
  if (t === "now") return now;
  const ago = parseSignedDuration(t);
  if (ago !== null) return ago.negative || !t.startsWith("+") ? now - ago.ms : null;
  const m = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)(Z|[+-]\d\d:?\d\d)?)?$/.exec(t);
  if (m === null) return null;
  // Date.parse rolls 2026-02-30 over into March: a day that does not exist is no date.
  const [y, mo, d] = m[1]!.split("-").map(Number) as [number, number, number];
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return null;
  const ms = Date.parse(`${m[1]}T${m[2] ?? "00:00"}${m[3] ?? "Z"}`);
  return Number.isNaN(ms) ? null : ms;
}
