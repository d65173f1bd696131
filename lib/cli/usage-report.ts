import { Worker } from "node:worker_threads";
import { parseTimePoint } from "../duration.js";
import { actAsDataOwner, type DatabaseArgs, databaseExists, databasePath } from "./common.js";
import { CliError, EXIT, type Io } from "./io.js";
import { formatCount, formatIso, formatMs, formatTable } from "./table.js";
import { GROUP_KEYS, type GroupKey, type RawGroup, type UsageQuery } from "./usage-query.js";
import type { UsageWorkerData, UsageWorkerMessage } from "./usage-report-worker.js";

export { GROUP_KEYS, type GroupKey } from "./usage-query.js";

/** What the rows can be ordered by: the grouping itself, or a column (largest first). */
export const SORT_KEYS = [
  "key",
  "requests",
  "errors",
  "tokens",
  "prompt_tokens",
  "completion_tokens",
  "duration",
  "p95",
  "ttft",
  "tps",
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** The counts of a group (or of all of them). */
export interface UsageCounts {
  requests: number;
  errors: number;
  aborted: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** One line of the report: the group's keys (those of `--by` only), its counts and percentiles. */
export interface UsageRow extends UsageCounts {
  user?: string | null;
  model?: string | null;
  server?: string | null;
  /** UTC day, `2026-03-01`. */
  day?: string;
  /** UTC hour, `2026-03-01T09:00Z`. */
  hour?: string;
  median_duration_ms: number | null;
  p95_duration_ms: number | null;
  median_ttft_ms: number | null;
  median_tokens_per_s: number | null;
}

export interface UsageArgs extends DatabaseArgs {
  since: string;
  until?: string | undefined;
  by: string;
  user?: string | undefined;
  model?: string | undefined;
  server?: string | undefined;
  sort?: string | undefined;
  top?: number | undefined;
  format: string;
  json: boolean;
}

/** How long a report runs before a terminal gets a progress line. */
const PROGRESS_AFTER_MS = 1000;

/**
 * `ollama-proxy usage`: requests, errors, tokens, median and p95 duration, median TTFT and
 * tokens/s from the request log, grouped by any of user, model, server, day and hour, with a
 * totals row. The query runs in a worker thread on a read-only connection (it works while
 * the server runs: SQLite WAL readers never wait for the writer); a terminal sees its
 * progress when it takes more than a second.
 */
export async function usage(
  args: UsageArgs,
  io: Io,
  opts: { progressAfterMs?: number } = {},
): Promise<number> {
  const now = Date.now();
  const query = parseQuery(args, now);
  const format = args.json ? "json" : args.format;
  const sort = (args.sort ?? (args.top !== undefined ? "requests" : "key")) as SortKey;
  const database = databasePath(args);
  if (!databaseExists(database))
    throw new CliError(`no database at ${database}: nothing has been logged there yet (ollama-proxy serve)`);
  actAsDataOwner(database);

  const groups = await runQuery(database, query, io, opts.progressAfterMs ?? PROGRESS_AFTER_MS);
  const all = groups.map((g) => toRow(g, query.by));
  const totals = sumCounts(all);
  const rows = sortRows(all, sort, query.by).slice(0, args.top ?? all.length);
  const window = describeWindow(args, query, now);

  if (format === "json") {
    io.out(
      JSON.stringify({
        since: new Date(query.since).toISOString(),
        until: new Date(query.until).toISOString(),
        by: query.by,
        sort,
        rows,
        totals,
        more_rows: all.length - rows.length,
      }),
    );
  } else if (format === "csv") {
    io.out(toCsv(rows, query.by));
  } else if (all.length === 0) {
    io.out(`No requests ${window}.`);
  } else {
    io.out(`Usage ${window}${query.by.length > 0 ? `, by ${query.by.join(", ")}` : ""}:`);
    io.out(toTable(rows, totals, query.by));
    if (rows.length < all.length)
      io.out(`… ${all.length - rows.length} more rows not shown (--top ${args.top}); TOTAL counts them all.`);
  }
  return EXIT.ok;
}

/** The command line as a query, or a usage error that says what is wrong. */
function parseQuery(args: UsageArgs, now: number): UsageQuery {
  const time = (flag: string, text: string) => {
    const ms = parseTimePoint(text, now);
    if (ms === null)
      throw new CliError(
        `${flag}: "${text}" is not a duration like 90m, 24h, 30d or 2w, nor a date like 2026-03-01 or 2026-03-01T09:00`,
        EXIT.usage,
      );
    return ms;
  };
  const since = time("--since", args.since);
  const until = args.until === undefined ? now : time("--until", args.until);
  if (until <= since)
    throw new CliError(
      `--until ${formatIso(until)} is not after --since ${formatIso(since)}: nothing to report`,
      EXIT.usage,
    );
  const by: GroupKey[] = [];
  for (const part of args.by.split(",").map((p) => p.trim())) {
    if (part === "") continue;
    if (!(GROUP_KEYS as readonly string[]).includes(part))
      throw new CliError(`--by: "${part}" is not one of ${GROUP_KEYS.join(", ")}`, EXIT.usage);
    if (!by.includes(part as GroupKey)) by.push(part as GroupKey);
  }
  if (args.top !== undefined && !(Number.isInteger(args.top) && args.top > 0))
    throw new CliError(`--top: "${args.top}" is not a whole number of rows (1 or more)`, EXIT.usage);
  return { since, until, by, user: args.user, model: args.model, server: args.server };
}

/** `in the last 24h (since 2026-03-01T09:12:00Z)` or `from … to …`. */
function describeWindow(args: UsageArgs, q: UsageQuery, now: number): string {
  if (q.until === now && !/^\d{4}-/.test(args.since.trim()))
    return `in the last ${args.since.trim().replace(/^-/, "")} (since ${formatIso(q.since)})`;
  return `from ${formatIso(q.since)} to ${formatIso(q.until)}`;
}

/** Runs the query in its worker; draws and clears the progress line on a terminal. */
function runQuery(path: string, query: UsageQuery, io: Io, progressAfterMs: number): Promise<RawGroup[]> {
  const progress = io.progress;
  const data: UsageWorkerData = { path, query, estimate: progress !== undefined };
  // No inherited execArgv: a CLI run as `node --input-type=module -e …` would pass a flag
  // that a worker loaded from a file refuses.
  const worker = new Worker(new URL("./usage-report-worker.js", import.meta.url), {
    workerData: data,
    execArgv: [],
  });
  const started = performance.now();
  const groups: RawGroup[] = [];
  let estimate: number | null = null;
  let requests = 0;
  let drawn = false;
  // Drawn by a timer, and at each message of the worker (which posts at most every 100 ms).
  const draw = () => {
    const elapsed = performance.now() - started;
    if (progress === undefined || elapsed < progressAfterMs) return;
    const share =
      estimate !== null && estimate > 0 ? `${Math.min(99, Math.floor((requests / estimate) * 100))}%, ` : "";
    const of = estimate !== null ? ` of ${formatCount(estimate)}` : "";
    progress(
      `usage: reading the request log… ${share}${formatCount(requests)}${of} requests, ${(elapsed / 1000).toFixed(1)} s`,
    );
    drawn = true;
  };
  const timer = setInterval(draw, 200);
  return new Promise<RawGroup[]>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      if (drawn) progress?.(null);
      void worker.terminate();
      if (err === null) resolve(groups);
      else reject(err);
    };
    worker.on("message", (m: UsageWorkerMessage) => {
      if (m.kind === "estimate") {
        estimate = m.requests;
        draw();
      } else if (m.kind === "groups") {
        for (const g of m.groups) groups.push(g);
        requests = m.requests;
        draw();
      } else if (m.kind === "end") finish(null);
      else finish(queryError(path, m.message));
    });
    worker.on("error", (err) => finish(err));
    worker.on("exit", (code) => finish(new Error(`the usage report's thread stopped (exit ${code})`)));
  });
}

function queryError(path: string, message: string): Error {
  if (/no such table/.test(message))
    return new CliError(`${path} has no request log yet: start the server once (ollama-proxy serve)`);
  return new CliError(`cannot read the request log in ${path}: ${message}`);
}

/** A group as SQLite returned it → a report row (keys named, days and hours as UTC dates). */
function toRow(g: RawGroup, by: readonly GroupKey[]): UsageRow {
  const keys: Pick<UsageRow, GroupKey> = {};
  for (const [i, k] of by.entries()) {
    const v = g[i] ?? null;
    if (k === "day") keys.day = new Date(Number(v) * 86_400_000).toISOString().slice(0, 10);
    else if (k === "hour") keys.hour = `${new Date(Number(v) * 3_600_000).toISOString().slice(0, 13)}:00Z`;
    else keys[k] = v === null ? null : String(v);
  }
  const n = (i: number) => Number(g[by.length + i] ?? 0);
  const tenth = (i: number) => {
    const v = g[by.length + i];
    return v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10;
  };
  return {
    ...keys,
    requests: n(0),
    errors: n(1),
    aborted: n(2),
    prompt_tokens: n(3),
    completion_tokens: n(4),
    median_duration_ms: tenth(5),
    p95_duration_ms: tenth(6),
    median_ttft_ms: tenth(7),
    median_tokens_per_s: tenth(8),
  };
}

/** The totals row: counts add up; percentiles do not, so the totals have none. */
export function sumCounts(rows: readonly UsageCounts[]): UsageCounts {
  const t: UsageCounts = { requests: 0, errors: 0, aborted: 0, prompt_tokens: 0, completion_tokens: 0 };
  for (const r of rows) {
    t.requests += r.requests;
    t.errors += r.errors;
    t.aborted += r.aborted;
    t.prompt_tokens += r.prompt_tokens;
    t.completion_tokens += r.completion_tokens;
  }
  return t;
}

const METRIC: Record<Exclude<SortKey, "key">, (r: UsageRow) => number | null> = {
  requests: (r) => r.requests,
  errors: (r) => r.errors,
  tokens: (r) => r.prompt_tokens + r.completion_tokens,
  prompt_tokens: (r) => r.prompt_tokens,
  completion_tokens: (r) => r.completion_tokens,
  duration: (r) => r.median_duration_ms,
  p95: (r) => r.p95_duration_ms,
  ttft: (r) => r.median_ttft_ms,
  tps: (r) => r.median_tokens_per_s,
};

/** By the grouping (ascending; days and hours in time order), or by a column, largest first. */
export function sortRows(rows: readonly UsageRow[], sort: SortKey, by: readonly GroupKey[]): UsageRow[] {
  const byKey = (a: UsageRow, b: UsageRow) => {
    for (const k of by) {
      const c = (a[k] ?? "").localeCompare(b[k] ?? "");
      if (c !== 0) return c;
    }
    return 0;
  };
  if (sort === "key") return [...rows].sort(byKey);
  const metric = METRIC[sort];
  // Rows without the figure (no tokens/s for embeddings) go last.
  return [...rows].sort((a, b) => (metric(b) ?? -1) - (metric(a) ?? -1) || byKey(a, b));
}

const HEADER: Record<GroupKey, string> = {
  user: "USER",
  model: "MODEL",
  server: "SERVER",
  day: "DAY",
  hour: "HOUR",
};

function toTable(rows: readonly UsageRow[], totals: UsageCounts, by: readonly GroupKey[]): string {
  const keys = (r: UsageRow) => by.map((k) => r[k] ?? "-");
  const counts = (c: UsageCounts) => [
    formatCount(c.requests),
    formatCount(c.errors),
    formatCount(c.prompt_tokens),
    formatCount(c.completion_tokens),
  ];
  const lines = rows.map((r) => [
    ...keys(r),
    ...counts(r),
    formatMs(r.median_duration_ms),
    formatMs(r.p95_duration_ms),
    formatMs(r.median_ttft_ms),
    r.median_tokens_per_s === null ? "-" : r.median_tokens_per_s.toFixed(1),
  ]);
  // One row needs no total; a total of several says what they add up to.
  if (rows.length > 1 || by.length === 0) {
    const label = by.length > 0 ? ["TOTAL", ...by.slice(1).map(() => "")] : [];
    lines.push([...label, ...counts(totals), "", "", "", ""]);
  }
  const header = [
    ...by.map((k) => HEADER[k]),
    "REQUESTS",
    "ERRORS",
    "PROMPT TOK",
    "COMPL TOK",
    "MEDIAN",
    "P95",
    "TTFT",
    "TOK/S",
  ];
  const right = new Set(header.map((_, i) => i).filter((i) => i >= by.length));
  return formatTable(header, lines, { right });
}

const CSV_COLUMNS = [
  "requests",
  "errors",
  "aborted",
  "prompt_tokens",
  "completion_tokens",
  "median_duration_ms",
  "p95_duration_ms",
  "median_ttft_ms",
  "median_tokens_per_s",
] as const;

/**
 * RFC 4180 CSV, one line per row, no totals line (a spreadsheet adds up itself). A text cell
 * that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`: model names are whatever
 * clients sent) gets a leading `'`, as OWASP advises against CSV injection.
 */
export function toCsv(rows: readonly UsageRow[], by: readonly GroupKey[]): string {
  const cell = (v: string | number | null | undefined): string => {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return String(v);
    const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
    return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
  };
  const lines = [[...by, ...CSV_COLUMNS].join(",")];
  for (const r of rows)
    lines.push([...by.map((k) => cell(r[k])), ...CSV_COLUMNS.map((c) => cell(r[c]))].join(","));
  return lines.join("\n");
}
