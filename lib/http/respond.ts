import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from "node:http";
import type { RequestContext } from "../context.js";
import { anthropicErrorType, type Dialect, type ErrorCode, errorType, type ProxyError } from "../errors.js";
import { hasBody } from "./body.js";

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
  // A body left unread (an endpoint that takes none, a refusal before it was read) ends the
  // connection: it could not carry another request, and a slow body must not hold it open.
  if (unreadBody(res.req)) head.connection = "close";
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

/**
 * The error body in a client's dialect: Ollama's `{"error": "message"}`, OpenAI's
 * `{"error": {message, type, code}}`, Anthropic's `{"type": "error", "error": {type, message}}`
 * (with the `request_id` its API puts there too, when the request has one).
 */
export function errorBody(message: string, code: ErrorCode, dialect: Dialect, requestId?: string): unknown {
  switch (dialect) {
    case "openai":
      return { error: { message, type: errorType(code), code } };
    case "anthropic":
      return {
        type: "error",
        error: { type: anthropicErrorType(code), message },
        ...(requestId === undefined ? {} : { request_id: requestId }),
      };
    case "ollama":
      return { error: message };
  }
}

/**
 * True when a request body is left unread, paused where a stage stopped reading it. Then
 * the connection must close after the answer: else it would sit there (and the client stay
 * blocked on its upload) until a timeout, and could never carry the next request.
 */
function unreadBody(req: IncomingMessage): boolean {
  return !req.readableEnded && hasBody(req);
}

/**
 * The one place an error becomes a response. Once headers are out, a second response is
 * impossible: the connection is torn down instead. A client still sending its body is let
 * finish first (within bounds), so that it can read why: fetch, the ollama and openai
 * clients write the whole body before they read, and get EPIPE instead of the answer when the
 * connection closes under them (nginx's lingering close does the same).
 */
export function sendError(res: ServerResponse, err: ProxyError, dialect: Dialect): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const id = res.getHeader("x-request-id");
  const body = errorBody(err.message, err.code, dialect, typeof id === "string" ? id : undefined);
  const send = () => sendJson(res, err.status, body, err.headers);
  // A body that stopped coming (408) is not waited for.
  if (unreadBody(res.req) && err.code !== "request_timeout") discardBody(res.req, send);
  else send();
}

/** Longest the rest of a refused body is read and dropped before the answer goes anyway. */
const LINGER_MS = 10_000;
/** Most of a refused body read and dropped (the default max_body_mb); beyond it the answer goes and the connection closes. */
const LINGER_BYTES = 64 * 1024 * 1024;

/** Reads and drops the rest of a request body, then calls `then` (also when a bound is reached or the client left). */
function discardBody(req: IncomingMessage, then: () => void): void {
  let bytes = 0;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off("data", onData);
    req.pause();
    then();
  };
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > LINGER_BYTES) finish();
  };
  const timer = setTimeout(finish, LINGER_MS);
  // Whatever the body was flowing into (an upstream request that failed) would pause it again
  // once its buffer fills, and the client would wait out LINGER_MS for its answer.
  req.unpipe();
  req.on("data", onData);
  req.once("end", finish);
  req.once("close", finish);
  req.resume();
}

/**
 * After a write the client's socket could not take: `then(true)` once it drains, `then(false)`
 * if the response closes first. A client that takes nothing for `timeoutMs` is let go (nginx's
 * send_timeout): its connection is destroyed, which ends the request upstream too.
 */
export function whenDrained(res: ServerResponse, timeoutMs: number, then: (drained: boolean) => void): void {
  const stalled = setTimeout(
    () => res.destroy(new Error(`the client read nothing for ${timeoutMs / 1000} s`)),
    timeoutMs,
  );
  stalled.unref();
  const drained = () => {
    clearTimeout(stalled);
    res.off("close", gone);
    then(true);
  };
  const gone = () => {
    clearTimeout(stalled);
    res.off("drain", drained);
    then(false);
  };
  res.once("drain", drained);
  res.once("close", gone);
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

/**
 * The SSE event that ends a stream with an error: OpenAI's error object as a bare `data:`
 * line, or Anthropic's `event: error` with its error body (what its streams end with).
 */
export function errorEvent(
  message: string,
  code: ErrorCode,
  dialect: "openai" | "anthropic" = "openai",
): string {
  const data = JSON.stringify(errorBody(message, code, dialect));
  return dialect === "anthropic" ? `event: error\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/**
 * The in-band error that ends a stream already under way, in its own framing (an SSE stream
 * in its dialect's error event); null for a body that is neither NDJSON nor SSE: that cannot be
 * repaired, only cut.
 */
export function errorFrame(
  framing: Framing,
  message: string,
  code: ErrorCode,
  dialect: Dialect = "openai",
): string | null {
  switch (framing) {
    case "ndjson":
      return errorLine(message);
    case "sse":
      return errorEvent(message, code, dialect === "anthropic" ? "anthropic" : "openai");
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
