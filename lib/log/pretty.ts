/**
 * The app log for a person at a terminal: one short line per record — local time, level,
 * message, the fields that matter — instead of pino's JSON. Files and pipes keep the JSON.
 * Written here rather than taken from pino-pretty: the request line needs its own layout,
 * and this runs in-process on a terminal only, with no worker thread or dependency tree.
 */

const LEVELS: Readonly<Record<number, { label: string; color: string }>> = {
  10: { label: "TRACE", color: "90" },
  20: { label: "DEBUG", color: "90" },
  30: { label: "INFO ", color: "32" },
  40: { label: "WARN ", color: "33" },
  50: { label: "ERROR", color: "31" },
  60: { label: "FATAL", color: "31;1" },
};

/** Fields every record has, shown in the line's frame or not at all. */
const FRAME = new Set(["level", "time", "msg", "pid", "hostname"]);

/** Fields of the request line that its layout shows; the rest follow as key=value. */
const REQUEST_FIELDS = new Set([
  "requestId",
  "method",
  "path",
  "model",
  "user",
  "server",
  "status",
  "durationMs",
  "ttftMs",
  "promptTokens",
  "completionTokens",
  "tokensPerS",
  "requestBody",
  "responseBody",
]);

/** One JSON log line → one readable line (with its newline). A line that is not JSON passes as it is. */
export function prettyLine(json: string, colors: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const level = LEVELS[rec.level as number] ?? { label: String(rec.level).padEnd(5), color: "0" };
  const paint = (code: string, text: string) => (colors ? `\x1b[${code}m${text}\x1b[0m` : text);
  const time = paint("2", clock(rec.time));
  const body = rec.msg === "request" ? requestLine(rec) : `${rec.msg ?? ""}${fields(rec, FRAME)}`;
  return `${time} ${paint(level.color, level.label)} ${body}\n`;
}

/** `POST /api/chat llama3:latest alice → gpu1 200 1.24 s, ttft 412 ms, 21+9 tokens, 38.2 tok/s` */
function requestLine(r: Record<string, unknown>): string {
  const parts = [`${r.method} ${r.path}`];
  if (r.model) parts.push(String(r.model));
  parts.push(r.user ? String(r.user) : "-");
  if (r.server) parts.push(`→ ${r.server}`);
  parts.push(String(r.status));
  const facts = [duration(r.durationMs)];
  if (typeof r.ttftMs === "number") facts.push(`ttft ${duration(r.ttftMs)}`);
  if (typeof r.promptTokens === "number" || typeof r.completionTokens === "number")
    facts.push(`${r.promptTokens ?? 0}+${r.completionTokens ?? 0} tokens`);
  if (typeof r.tokensPerS === "number")
    facts.push(`${(Math.round(r.tokensPerS * 10) / 10).toFixed(1)} tok/s`);
  const skip = new Set([...FRAME, ...REQUEST_FIELDS]);
  return `${parts.join(" ")} ${facts.join(", ")}${fields(r, skip)}`;
}

/** The remaining fields as ` key=value`: durations for people, errors by their message, long text cut. */
function fields(rec: Record<string, unknown>, skip: ReadonlySet<string>): string {
  let out = "";
  for (const [k, v] of Object.entries(rec)) {
    if (skip.has(k) || v === undefined || v === null) continue;
    out += ` ${k}=${value(k, v)}`;
  }
  return out;
}

function value(key: string, v: unknown): string {
  if (typeof v === "number") return /Ms$|_ms$/.test(key) ? duration(v) : String(Math.round(v * 10) / 10);
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(cut(v)) : cut(v);
  if (Array.isArray(v))
    return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(",");
  if (typeof v === "object" && v !== null && typeof (v as { message?: unknown }).message === "string")
    return JSON.stringify((v as { message: string }).message);
  return cut(JSON.stringify(v));
}

function cut(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** `850 ms`, `1.24 s`, `3m 05s`. */
function duration(v: unknown): string {
  if (typeof v !== "number") return "-";
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(2)} s`;
  const s = Math.round(v / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

/** Local wall-clock time `HH:MM:SS.mmm`: a terminal is read by someone in their own time zone. */
function clock(time: unknown): string {
  const d = new Date(typeof time === "string" || typeof time === "number" ? time : Date.now());
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}
