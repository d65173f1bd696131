import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from "node:http";
import type { RequestContext } from "../context.js";
import { type Dialect, type ErrorCode, errorType, type ProxyError } from "../errors.js";

/**
 * The one way the proxy answers by itself (errors, listings, health, metrics, `/`). Every such
 * answer is never sniffed and never cached: these bodies are errors or live fleet state.
 */
const OWN_HEADERS = {
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
} as const;

const JSON_TYPE = "application/json; charset=utf-8";

/** Writes a body the proxy produced itself, with the security headers; HEAD gets the head only. */
export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  contentType: string,
  headers?: Readonly<Record<string, string>>,
): void {
  const head: OutgoingHttpHeaders = {
    "content-type": contentType,
    ...OWN_HEADERS,
    ...headers,
    "content-length": Buffer.byteLength(text),
  };
  res.writeHead(status, head);
  res.end(res.req.method === "HEAD" ? undefined : text);
}

/** Writes a JSON body the proxy produced itself (listings, health, errors). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>,
): void {
  sendText(res, status, JSON.stringify(body), JSON_TYPE, headers);
}

/** The error body in a client's dialect: Ollama's `{"error": "message"}`, OpenAI's `{"error": {message, type, code}}`. */
export function errorBody(message: string, code: ErrorCode, dialect: Dialect): unknown {
  return dialect === "openai" ? { error: { message, type: errorType(code), code } } : { error: message };
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
 * The one place an error becomes a response. Once headers are out, a second response is
 * impossible: the connection is torn down instead.
 */
export function sendError(res: ServerResponse, err: ProxyError, dialect: Dialect): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const headers = unreadBody(res.req) ? { ...err.headers, connection: "close" } : err.headers;
  sendJson(res, err.status, errorBody(err.message, err.code, dialect), headers);
}

/** Answers a request with an error and records it on its context, for the request log. */
export function failRequest(res: ServerResponse, ctx: RequestContext, err: ProxyError): void {
  ctx.status = err.status;
  ctx.errorCode = err.code;
  ctx.errorMessage = err.message;
  sendError(res, err, ctx.dialect);
}

/** How a streamed answer is framed, which decides how an error can still be told inside it. */
export type Framing = "ndjson" | "sse" | "other";

export function framingOf(contentType: string): Framing {
  return contentType.includes("ndjson") ? "ndjson" : contentType.includes("event-stream") ? "sse" : "other";
}

/** The NDJSON line that ends a stream with an error (what Ollama itself sends mid-stream). */
export function errorLine(message: string): string {
  return `${JSON.stringify({ error: message })}\n`;
}

/** The SSE event that ends a stream with an error, carrying OpenAI's error object. */
export function errorEvent(message: string, code: ErrorCode): string {
  return `data: ${JSON.stringify(errorBody(message, code, "openai"))}\n\n`;
}

/**
 * The in-band error that ends a stream already under way, in its own framing; null for a body
 * that is neither NDJSON nor SSE: that cannot be repaired, only cut.
 */
export function errorFrame(framing: Framing, message: string, code: ErrorCode): string | null {
  switch (framing) {
    case "ndjson":
      return errorLine(message);
    case "sse":
      return errorEvent(message, code);
    case "other":
      return null;
  }
}

/**
 * A whole error response as raw HTTP/1.1, for a socket that never became a request (Node's
 * parser refused it: oversized or slow headers, bad syntax). Same body and headers as sendError.
 */
export function rawErrorResponse(err: ProxyError): string {
  const text = JSON.stringify(errorBody(err.message, err.code, "ollama"));
  const head = [
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? "Error"}`,
    `content-type: ${JSON_TYPE}`,
    ...Object.entries(OWN_HEADERS).map(([k, v]) => `${k}: ${v}`),
    `content-length: ${Buffer.byteLength(text)}`,
    "connection: close",
  ];
  return `${head.join("\r\n")}\r\n\r\n${text}`;
}
