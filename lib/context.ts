import type { Dialect, ErrorCode } from "./errors.js";
import type { User } from "./store/users.js";

/**
 * Everything the proxy learns about one request, filled in stage by stage and handed to the
 * request log when the response is over. Times are `performance.now()` milliseconds.
 */
export interface RequestContext {
  readonly id: string;
  /** Epoch ms at arrival. */
  readonly startedAt: number;
  /** performance.now() at arrival. */
  readonly t0: number;
  readonly method: string;
  readonly path: string;
  /** The path as a bounded label (lib/stages/endpoints.ts, `endpointLabel`): metrics never see the raw path. */
  readonly endpoint: string;
  readonly dialect: Dialect;
  readonly address: string;
  user: User | null;
  model: string | null;
  /** Server or external host key that served (or last tried) it. */
  server: string | null;
  attempts: number;
  /** How long it waited in the scheduler for a slot, ms; null when it was not scheduled. */
  queueMs: number | null;
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** When the request left for the upstream (last attempt). */
  tSent: number | null;
  /** When the upstream's response headers arrived. */
  tHeaders: number | null;
  /** When the first body chunk went to the client. */
  tFirstChunk: number | null;
  tEnd: number | null;
  /** Token counts and Ollama's own durations (ns), from the final chunk or body; null when not reported. */
  usage: Usage | null;
  /** The request body as text (its first BODY_LOG_BYTES), only when logging.log_bodies is on. */
  requestBody: string | null;
  /** Why it failed, when it did (a ProxyError's code, or how the upstream failed mid-response). */
  errorCode: ErrorCode | null;
  errorMessage: string | null;
  clientAborted: boolean;
}

/** How much of a request or response body `logging.log_bodies` puts in the app log. */
export const BODY_LOG_BYTES = 64 * 1024;

/** A body as text for the log, cut at `BODY_LOG_BYTES` with a note of its full size. */
export function bodyForLog(chunks: readonly Buffer[], total: number): string {
  const head = Buffer.concat(chunks, Math.min(total, BODY_LOG_BYTES)).toString("utf8");
  return total > BODY_LOG_BYTES ? `${head}… (${total} bytes in all)` : head;
}

/** Sees every response chunk as it passes (the usage tap); never holds on to it. */
export interface ResponseObserver {
  chunk(data: Buffer): void;
  /** The response is over; `error` is set when it ended early. */
  end(error: string | null): void;
}

/** What a backend or provider reported about the work it did. */
export interface Usage {
  promptTokens: number | null;
  completionTokens: number | null;
  /** Ollama's durations in nanoseconds (synthesised at the proxy for external hosts). */
  evalDurationNs: number | null;
  loadDurationNs: number | null;
  totalDurationNs: number | null;
  doneReason: string | null;
}

export function newContext(
  id: string,
  method: string,
  path: string,
  dialect: Dialect,
  address: string,
  endpoint = "other",
): RequestContext {
  return {
    id,
    startedAt: Date.now(),
    t0: performance.now(),
    method,
    path,
    endpoint,
    dialect,
    address,
    user: null,
    model: null,
    server: null,
    attempts: 0,
    queueMs: null,
    status: 0,
    bytesIn: 0,
    bytesOut: 0,
    tSent: null,
    tHeaders: null,
    tFirstChunk: null,
    tEnd: null,
    usage: null,
    requestBody: null,
    errorCode: null,
    errorMessage: null,
    clientAborted: false,
  };
}
