/**
 * Every way a request can fail at the proxy, mapped once to an HTTP status and the error type
 * OpenAI-dialect clients read. Codes that only ever end a response already under way (an
 * in-band error line) are here too: their status is what the request log records.
 */
const TABLE = {
  bad_request: { status: 400, type: "invalid_request_error" },
  unauthorized: { status: 401, type: "authentication_error" },
  forbidden: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "not_found_error" },
  model_not_found: { status: 404, type: "not_found_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  request_timeout: { status: 408, type: "invalid_request_error" },
  body_too_large: { status: 413, type: "invalid_request_error" },
  headers_too_large: { status: 431, type: "invalid_request_error" },
  rate_limited: { status: 429, type: "rate_limit_error" },
  internal: { status: 500, type: "server_error" },
  upstream_unreachable: { status: 502, type: "server_error" },
  upstream_bad_response: { status: 502, type: "server_error" },
  no_server: { status: 503, type: "server_error" },
  // The scheduler: more than scheduler.max_queue waiting, or a wait past scheduler.max_wait_seconds.
  queue_full: { status: 503, type: "server_error" },
  queue_timeout: { status: 503, type: "server_error" },
  shutting_down: { status: 503, type: "server_error" },
  upstream_timeout: { status: 504, type: "server_error" },
  // The backend failed after the client had the response head: the stream ends with an in-band error.
  upstream_stream_error: { status: 502, type: "server_error" },
  upstream_idle_timeout: { status: 504, type: "server_error" },
  // A backend or provider reported an error itself (in its body, or as its status).
  upstream_error: { status: 502, type: "server_error" },
  // An external host (OpenAI, Anthropic) answered with an error: its status, kept where the client can act on it.
  upstream_rejected: { status: 400, type: "invalid_request_error" },
  upstream_not_found: { status: 404, type: "not_found_error" },
  upstream_too_large: { status: 413, type: "invalid_request_error" },
  upstream_rate_limited: { status: 429, type: "rate_limit_error" },
  // The provider refused the operator's API key: a 502, never the client's own 401.
  upstream_credentials: { status: 502, type: "server_error" },
  upstream_overloaded: { status: 503, type: "server_error" },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof TABLE;

/** A failure with its HTTP meaning; `sendError` (lib/http/respond.ts) answers it in the client's dialect. */
export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProxyError";
    this.code = code;
    this.status = TABLE[code].status;
    this.headers = options?.headers;
  }
}

/** OpenAI's error `type` for a code (the `type` field of `{"error": {...}}` on /v1). */
export function errorType(code: ErrorCode): string {
  return TABLE[code].type;
}

/** Which wire format a client speaks: Ollama's native API, or OpenAI's under /v1. */
export type Dialect = "ollama" | "openai";

export function dialectOf(path: string): Dialect {
  return path.startsWith("/v1/") ? "openai" : "ollama";
}
