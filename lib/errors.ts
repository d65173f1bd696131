/**
 * Every way a request can fail at the proxy, mapped once to an HTTP status and the error types
 * OpenAI-dialect clients (`type`) and Anthropic-dialect clients (`anthropic`: the `error.type`
 * of Anthropic's error body, one of the types its API documents) read. Codes that only ever end a response already under way (an
 * in-band error line) are here too: their status is what the request log records.
 */
const TABLE = {
  bad_request: { status: 400, type: "invalid_request_error", anthropic: "invalid_request_error" },
  unauthorized: { status: 401, type: "authentication_error", anthropic: "authentication_error" },
  forbidden: { status: 403, type: "permission_error", anthropic: "permission_error" },
  not_found: { status: 404, type: "not_found_error", anthropic: "not_found_error" },
  model_not_found: { status: 404, type: "not_found_error", anthropic: "not_found_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error", anthropic: "invalid_request_error" },
  request_timeout: { status: 408, type: "invalid_request_error", anthropic: "invalid_request_error" },
  body_too_large: { status: 413, type: "invalid_request_error", anthropic: "request_too_large" },
  headers_too_large: { status: 431, type: "invalid_request_error", anthropic: "invalid_request_error" },
  rate_limited: { status: 429, type: "rate_limit_error", anthropic: "rate_limit_error" },
  internal: { status: 500, type: "server_error", anthropic: "api_error" },
  upstream_unreachable: { status: 502, type: "server_error", anthropic: "api_error" },
  upstream_bad_response: { status: 502, type: "server_error", anthropic: "api_error" },
  no_server: { status: 503, type: "server_error", anthropic: "overloaded_error" },
  // The scheduler: more than scheduler.max_queue waiting, or a wait past scheduler.max_wait_seconds.
  queue_full: { status: 503, type: "server_error", anthropic: "overloaded_error" },
  queue_timeout: { status: 503, type: "server_error", anthropic: "overloaded_error" },
  shutting_down: { status: 503, type: "server_error", anthropic: "overloaded_error" },
  upstream_timeout: { status: 504, type: "server_error", anthropic: "api_error" },
  // The backend failed after the client had the response head: the stream ends with an in-band error.
  upstream_stream_error: { status: 502, type: "server_error", anthropic: "api_error" },
  upstream_idle_timeout: { status: 504, type: "server_error", anthropic: "api_error" },
  // A backend or provider reported an error itself (in its body, or as its status).
  upstream_error: { status: 502, type: "server_error", anthropic: "api_error" },
  // An external host (OpenAI, Anthropic) answered with an error: its status, kept where the client can act on it.
  upstream_rejected: { status: 400, type: "invalid_request_error", anthropic: "invalid_request_error" },
  upstream_not_found: { status: 404, type: "not_found_error", anthropic: "not_found_error" },
  upstream_too_large: { status: 413, type: "invalid_request_error", anthropic: "request_too_large" },
  upstream_rate_limited: { status: 429, type: "rate_limit_error", anthropic: "rate_limit_error" },
  // The provider refused the operator's API key: a 502, never the client's own 401.
  upstream_credentials: { status: 502, type: "server_error", anthropic: "api_error" },
  upstream_overloaded: { status: 503, type: "server_error", anthropic: "overloaded_error" },
} as const satisfies Record<string, { status: number; type: string; anthropic: AnthropicErrorType }>;

/** The error types Anthropic's API documents (its SDKs pick their error class by status; clients read the type). */
type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

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

/** Anthropic's error `type` for a code (the `error.type` of `{"type": "error", "error": {...}}` on /v1/messages). */
export function anthropicErrorType(code: ErrorCode): string {
  return TABLE[code].anthropic;
}

/** Which wire format a client speaks: Ollama's native API, Anthropic's Messages API, or OpenAI's under /v1. */
export type Dialect = "ollama" | "openai" | "anthropic";

/** The dialect a path speaks: `/v1/messages` and the paths under it are Anthropic's, the rest of `/v1/` OpenAI's. */
export function dialectOf(path: string): Dialect {
  if (!path.startsWith("/v1/")) return "ollama";
  return path === "/v1/messages" || path.startsWith("/v1/messages/") ? "anthropic" : "openai";
}
