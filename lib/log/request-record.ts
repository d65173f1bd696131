import type { RequestContext } from "../context.js";

/**
 * One request-log row as the request path hands it to the writer: a small plain object
 * (structured-clone friendly), keyed by the `request_log` column names.
 */
export interface RequestRecord {
  /** Epoch ms at arrival. */
  ts: number;
  request_id: string;
  user_id: number | null;
  /** Kept beside the id so that rows of a deleted user still name it. */
  user_name: string | null;
  client: string;
  method: string;
  path: string;
  model: string | null;
  server: string | null;
  status: number;
  attempts: number;
  bytes_in: number;
  bytes_out: number;
  /** Arrival → request sent upstream: the proxy's own overhead. */
  overhead_ms: number | null;
  /** Arrival → upstream response headers. */
  headers_ms: number | null;
  /** Arrival → first body chunk toward the client (an honest TTFT; Ollama has no such field). */
  ttft_ms: number | null;
  duration_ms: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  tokens_per_s: number | null;
  /** Ollama's own eval_duration and load_duration, in ms. */
  eval_ms: number | null;
  load_ms: number | null;
  done_reason: string | null;
  error_code: string | null;
  error_message: string | null;
  client_aborted: 0 | 1;
  /** Time it waited in the scheduler for a slot; null when it was not scheduled. */
  queue_ms: number | null;
}

/** The columns of `request_log` that a record fills, in one list for the writer's INSERT. */
export const RECORD_COLUMNS = [
  "ts",
  "request_id",
  "user_id",
  "user_name",
  "client",
  "method",
  "path",
  "model",
  "server",
  "status",
  "attempts",
  "bytes_in",
  "bytes_out",
  "overhead_ms",
  "headers_ms",
  "ttft_ms",
  "duration_ms",
  "prompt_tokens",
  "completion_tokens",
  "tokens_per_s",
  "eval_ms",
  "load_ms",
  "done_reason",
  "error_code",
  "error_message",
  "client_aborted",
  "queue_ms",
] as const satisfies readonly (keyof RequestRecord)[];

/** Client-chosen strings are cut to this length before they are stored (a junk model name cannot bloat a row). */
/**
 * A record as the values of RECORD_COLUMNS in order: what travels to the writer thread. A
 * structured clone of a flat array costs half that of an object with named fields, per request.
 */
export type RequestRow = RequestRecord[keyof RequestRecord][];

export function toRow(r: RequestRecord): RequestRow {
  const row: RequestRow = new Array(RECORD_COLUMNS.length);
  for (let i = 0; i < RECORD_COLUMNS.length; i++) row[i] = r[RECORD_COLUMNS[i]!];
  return row;
}

const MAX_TEXT = 200;

/**
 * Builds the record of a finished request. `model` is the name as it should be stored
 * (normalised for Ollama models); `streamed` says whether the body came as several lines,
 * which is when the wall-clock rate of the stream is a fair stand-in for Ollama's eval rate.
 */
export function toRecord(ctx: RequestContext, model: string | null, streamed: boolean): RequestRecord {
  const end = ctx.tEnd ?? performance.now();
  const since = (t: number | null) => (t === null ? null : ms(t - ctx.t0));
  const u = ctx.usage;
  const completion = u?.completionTokens ?? null;
  const evalMs = u?.evalDurationNs == null ? null : u.evalDurationNs / 1e6;
  let tokensPerS: number | null = null;
  if (completion !== null && completion > 0) {
    if (evalMs !== null && evalMs > 0) tokensPerS = completion / (evalMs / 1000);
    else if (streamed && ctx.tFirstChunk !== null && end > ctx.tFirstChunk)
      tokensPerS = completion / ((end - ctx.tFirstChunk) / 1000);
  }
  return {
    ts: ctx.startedAt,
    request_id: ctx.id,
    user_id: ctx.user?.id ?? null,
    user_name: ctx.user?.name ?? null,
    client: ctx.address,
    method: ctx.method,
    path: cut(ctx.path)!,
    model: cut(model),
    server: ctx.server,
    status: ctx.status,
    attempts: ctx.attempts,
    bytes_in: Math.max(0, Math.round(ctx.bytesIn || 0)),
    bytes_out: ctx.bytesOut,
    overhead_ms: since(ctx.tSent),
    headers_ms: since(ctx.tHeaders),
    ttft_ms: since(ctx.tFirstChunk),
    duration_ms: ms(end - ctx.t0),
    prompt_tokens: u?.promptTokens ?? null,
    completion_tokens: completion,
    tokens_per_s: tokensPerS === null ? null : Math.round(tokensPerS * 100) / 100,
    eval_ms: evalMs === null ? null : ms(evalMs),
    load_ms: u?.loadDurationNs == null ? null : ms(u.loadDurationNs / 1e6),
    done_reason: cut(u?.doneReason ?? null),
    error_code: ctx.errorCode,
    error_message: ctx.errorMessage === null ? null : ctx.errorMessage.slice(0, 500),
    client_aborted: ctx.clientAborted ? 1 : 0,
    queue_ms: ctx.queueMs === null ? null : ms(ctx.queueMs),
  };
}

/** Milliseconds to two decimals. */
function ms(v: number): number {
  return Math.round(Math.max(0, v) * 100) / 100;
}

function cut(s: string | null): string | null {
  return s === null || s.length <= MAX_TEXT ? s : s.slice(0, MAX_TEXT);
}
