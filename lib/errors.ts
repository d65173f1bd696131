import type { IncomingMessage, ServerResponse } from "node:http";

/** Every way a request can fail at the proxy, mapped once to a status and an OpenAI error type. */
const TABLE = {
  bad_request: { status: 400, type: "invalid_request_error" },
  unauthorized: { status: 401, type: "authentication_error" },
  forbidden: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "not_found_error" },
  model_not_found: { status: 404, type: "not_found_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  body_too_large: { status: 413, type: "invalid_request_error" },
  headers_too_large: { status: 431, type: "invalid_request_error" },
  rate_limited: { status: 429, type: "rate_limit_error" },
  internal: { status: 500, type: "server_error" },
  upstream_unreachable: { status: 502, type: "server_error" },
  upstream_bad_response: { status: 502, type: "server_error" },
  no_server: { status: 503, type: "server_error" },
  shutting_down: { status: 503, type: "server_error" },
  upstream_timeout: { status: 504, type: "server_error" },
  // An external host (OpenAI, Anthropic) answered with an error: its status, kept where the client can act on it.
  upstream_rejected: { status: 400, type: "invalid_request_error" },
  upstream_not_found: { status: 404, type: "not_found_error" },
  upstream_too_large: { status: 413, type: "invalid_request_error" },
  upstream_rate_limited: { status: 429, type: "rate_limit_error" },
  // The provider refused the operator's API key: a 502, never the client's own 401.
  upstream_credentials: { status: 502, type: "server_error" },
  upstream_error: { status: 502, type: "server_error" },
  upstream_overloaded: { status: 503, type: "server_error" },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof TABLE;

/** A failure with its HTTP meaning; `sendError` turns it into a response in the client's dialect. */
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

/** Which wire format a client speaks: Ollama's native API, or OpenAI's under /v1. */
export type Dialect = "ollama" | "openai";

export function dialectOf(path: string): Dialect {
  return path.startsWith("/v1/") ? "openai" : "ollama";
}

/**
 * Maps a socket or HTTP-client error from an upstream to a ProxyError. Connection-level
 * failures are 502; our own deadlines are 504.
 */
export function upstreamError(err: NodeJS.ErrnoException, upstream: string): ProxyError {
  switch (err.code) {
    case "ETIMEDOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
      return new ProxyError("upstream_timeout", `${upstream} did not answer in time`, { cause: err });
    case "HPE_INVALID_CONSTANT":
    case "HPE_INVALID_VERSION":
    case "HPE_INVALID_STATUS":
    case "HPE_INVALID_HEADER_TOKEN":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
    case "HPE_INVALID_CHUNK_SIZE":
      return new ProxyError("upstream_bad_response", `${upstream} sent an invalid HTTP response`, {
        cause: err,
      });
    default:
      return new ProxyError(
        "upstream_unreachable",
        `${upstream} is unreachable (${err.code ?? err.message})`,
        {
          cause: err,
        },
      );
  }
}

/**
 * Headers on every response the proxy writes itself: never sniffed, never cached
 * (these bodies are errors or live fleet state).
 */
export const OWN_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
} as const;

/** Writes a JSON body the proxy produced itself (listings, health, errors). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...OWN_HEADERS, ...headers, "content-length": Buffer.byteLength(text) });
  res.end(res.req.method === "HEAD" ? undefined : text);
}

/**
 * True when a request body is left unread, paused where a stage stopped reading it. Then
 * the connection must close after the answer: else it would sit there (and the client stay
 * blocked on its upload) until a timeout, and could never carry the next request.
 */
function unreadBody(req: IncomingMessage): boolean {
  if (req.readableEnded) return false;
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * The one place an error becomes a response. Ollama clients read `{"error": "message"}` (a
 * string); OpenAI clients read `{"error": {"message", "type", "code"}}`. Once headers are out, a
 * second response is impossible: the connection is torn down instead.
 */
export function sendError(res: ServerResponse, err: ProxyError, dialect: Dialect): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body =
    dialect === "openai"
      ? { error: { message: err.message, type: TABLE[err.code].type, code: err.code } }
      : { error: err.message };
  sendJson(
    res,
    err.status,
    body,
    unreadBody(res.req) ? { ...err.headers, connection: "close" } : err.headers,
  );
}
