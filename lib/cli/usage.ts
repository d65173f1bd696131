import { parseDuration } from "../duration.js";
import { normalizeModel } from "../model-name.js";
import type { Store } from "../store/open.js";
import { type ConfigArgs, loadOrFail, openOrFail } from "./common.js";
import { CliError, EXIT, type Io } from "./io.js";
import { formatTable } from "./table.js";

/** One line of the usage report: a user's use of a model. */
export interface UsageRow {
  user: string | null;
  model: string | null;
  requests: number;
  errors: number;
  aborted: number;
  prompt_tokens: number;
  completion_tokens: number;
  median_duration_ms: number | null;
  p95_duration_ms: number | null;
  median_ttft_ms: number | null;
  median_tokens_per_s: number | null;
}

export interface UsageArgs extends ConfigArgs {
  user?: string | undefined;
  model?: string | undefined;
  since: string;
  json: boolean;
}

/** Probes and scrapes are in the request log but are nobody's usage. */
const PROBE_PATHS = ["/", "/health", "/metrics", "/api/version"];

/**
 * `ollama-proxy usage`: per user and model, from the request log — requests, errors, tokens,
 * median and p95 duration, median TTFT and tokens/s. Opens the database read-only, so it
 * works while the server runs (SQLite WAL: readers never wait for the writer).
 */
export function usage(args: UsageArgs, io: Io): number {
  const sinceMs = parseDuration(args.since);
  if (sinceMs === null)
    throw new CliError(`--since: "${args.since}" is not a duration like 90m, 24h, 30d or 2w`, EXIT.usage);
  const { config } = loadOrFail(args);
  const store = openOrFail(config.database, { readonly: true });
  const until = Date.now();
  const since = until - sinceMs;
  let rows: UsageRow[];
  try {
    rows = usageRows(store, { since, user: args.user, model: args.model });
  } finally {
    store.close();
  }
  if (args.json) {
    io.out(
      JSON.stringify({ since: new Date(since).toISOString(), until: new Date(until).toISOString(), rows }),
    );
    return EXIT.ok;
  }
  const window = `${args.since} (since ${new Date(since).toISOString().slice(0, 16).replace("T", " ")} UTC)`;
  if (rows.length === 0) {
    io.out(`No requests in the last ${window}.`);
    return EXIT.ok;
  }
  io.out(`Usage in the last ${window}:`);
  io.out(
    formatTable(
      ["USER", "MODEL", "REQUESTS", "ERRORS", "PROMPT TOK", "COMPL TOK", "MEDIAN", "P95", "TTFT", "TOK/S"],
      rows.map((r) => [
        r.user ?? "-",
        r.model ?? "-",
        String(r.requests),
        String(r.errors),
        String(r.prompt_tokens),
        String(r.completion_tokens),
        duration(r.median_duration_ms),
        duration(r.p95_duration_ms),
        duration(r.median_ttft_ms),
        r.median_tokens_per_s === null ? "-" : r.median_tokens_per_s.toFixed(1),
      ]),
    ),
  );
  return EXIT.ok;
}

/** The report's rows, sorted by user then model. */
export function usageRows(
  store: Store,
  filter: { since: number; user?: string | undefined; model?: string | undefined },
): UsageRow[] {
  const where = ["ts >= @since", `path NOT IN (${PROBE_PATHS.map((p) => `'${p}'`).join(", ")})`];
  const params: Record<string, unknown> = { since: filter.since };
  if (filter.user !== undefined) {
    where.push("user_name = @user");
    params.user = filter.user;
  }
  if (filter.model !== undefined) {
    // Ollama models are stored normalised; external ones as written.
    where.push("(model = @model OR model = @normalised)");
    params.model = filter.model;
    params.normalised = normalizeModel(filter.model);
  }
  let stmt: ReturnType<Store["db"]["prepare"]>;
  try {
    stmt = store.db.prepare(
      `SELECT user_name, model, status, error_code, client_aborted, prompt_tokens, completion_tokens,
              duration_ms, ttft_ms, tokens_per_s
         FROM request_log WHERE ${where.join(" AND ")}`,
    );
  } catch (err) {
    if (/no such table/.test((err as Error).message))
      throw new CliError(`${store.path} has no request log yet: start the server once (ollama-proxy serve)`);
    throw err;
  }
  interface Group {
    user: string | null;
    model: string | null;
    requests: number;
    errors: number;
    aborted: number;
    prompt: number;
    completion: number;
    durations: number[];
    ttfts: number[];
    rates: number[];
  }
  const groups = new Map<string, Group>();
  // Rows are streamed, not loaded at once; only the numbers the percentiles need are kept.
  for (const r of stmt.iterate(params) as Iterable<{
    user_name: string | null;
    model: string | null;
    status: number;
    error_code: string | null;
    client_aborted: number;
    prompt_tokens: number | null;
    completion_tokens: number | null;
    duration_ms: number;
    ttft_ms: number | null;
    tokens_per_s: number | null;
  }>) {
    const key = `${r.user_name ?? ""}\u0000${r.model ?? ""}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = {
        user: r.user_name,
        model: r.model,
        requests: 0,
        errors: 0,
        aborted: 0,
        prompt: 0,
        completion: 0,
        durations: [],
        ttfts: [],
        rates: [],
      };
      groups.set(key, g);
    }
    g.requests++;
    if (r.status >= 400 || r.error_code !== null) g.errors++;
    if (r.client_aborted) g.aborted++;
    g.prompt += r.prompt_tokens ?? 0;
    g.completion += r.completion_tokens ?? 0;
    g.durations.push(r.duration_ms);
    if (r.ttft_ms !== null && r.status < 400) g.ttfts.push(r.ttft_ms);
    if (r.tokens_per_s !== null) g.rates.push(r.tokens_per_s);
  }
  return [...groups.values()]
    .sort(
      (a, b) => (a.user ?? "").localeCompare(b.user ?? "") || (a.model ?? "").localeCompare(b.model ?? ""),
    )
    .map((g) => ({
      user: g.user,
      model: g.model,
      requests: g.requests,
      errors: g.errors,
      aborted: g.aborted,
      prompt_tokens: g.prompt,
      completion_tokens: g.completion,
      median_duration_ms: percentile(g.durations, 0.5),
      p95_duration_ms: percentile(g.durations, 0.95),
      median_ttft_ms: percentile(g.ttfts, 0.5),
      median_tokens_per_s: percentile(g.rates, 0.5),
    }));
}

/** The nearest-rank percentile (a value that occurred), rounded to 0.1; null for no values. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * values.length));
  return Math.round(values[rank - 1]! * 10) / 10;
}

/** `850 ms`, `1.24 s`, `3m 05s`, or `-`. */
function duration(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}
