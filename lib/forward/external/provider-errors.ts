import type { IncomingHttpHeaders } from "node:http";
import type { ExternalHostConfig } from "../../config/types.js";
import { type ErrorCode, ProxyError } from "../../errors.js";

/** The longest provider message passed on (their bodies can be HTML error pages). */
const MAX_MESSAGE = 1000;

/**
 * The message inside a provider's error body: OpenAI's `{"error": {"message"}}`, Anthropic's
 * `{"type": "error", "error": {"type", "message"}}`, Ollama-likes' `{"error": "..."}`, or the text.
 */
export function providerMessage(text: string, status: number): { message: string; type: string | null } {
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    const e = j.error;
    if (typeof e === "string") return { message: e, type: null };
    if (typeof e === "object" && e !== null) {
      const o = e as { message?: unknown; type?: unknown };
      if (typeof o.message === "string")
        return { message: o.message, type: typeof o.type === "string" ? o.type : null };
    }
    if (typeof j.message === "string") return { message: j.message, type: null };
  } catch {
    // Not JSON: the text itself.
  }
  const trimmed = text.trim().slice(0, MAX_MESSAGE);
  return { message: trimmed === "" ? `HTTP ${status}` : trimmed, type: null };
}

/** Our code for a provider's HTTP status. */
function codeFor(status: number): ErrorCode {
  if (status === 401 || status === 403) return "upstream_credentials";
  if (status === 404) return "upstream_not_found";
  if (status === 408 || status === 504) return "upstream_timeout";
  if (status === 413) return "upstream_too_large";
  if (status === 429) return "upstream_rate_limited";
  // Anthropic answers 529 when it is overloaded.
  if (status === 503 || status === 529) return "upstream_overloaded";
  if (status >= 400 && status < 500) return "upstream_rejected";
  return "upstream_error";
}

/** Our code for an error `type` in a provider's stream (Anthropic's error event; OpenAI's error object). */
function codeForType(type: string): ErrorCode {
  switch (type) {
    case "invalid_request_error":
      return "upstream_rejected";
    case "authentication_error":
    case "permission_error":
      return "upstream_credentials";
    case "not_found_error":
      return "upstream_not_found";
    case "request_too_large":
      return "upstream_too_large";
    case "rate_limit_error":
      return "upstream_rate_limited";
    case "overloaded_error":
      return "upstream_overloaded";
    default:
      return "upstream_error";
  }
}

/**
 * A provider's error answer as the client gets it: the provider's status where the client can
 * act on it (400, 404, 413, 429 with its Retry-After), 502/503/504 for the provider's own
 * trouble — and 502 when it refused the operator's key, with a message that says whose
 * problem that is (a 401 would tell the client its own token is wrong).
 */
export function providerError(
  host: ExternalHostConfig,
  status: number,
  headers: IncomingHttpHeaders,
  text: string,
  key: string | null,
): ProxyError {
  const { message } = providerMessage(text, status);
  return errorFor(host, codeFor(status), scrub(message, key), retryHeaders(headers));
}

/** An error the provider reported inside a 200 answer (an SSE `error` event). */
export function providerStreamError(
  host: ExternalHostConfig,
  type: string,
  message: string,
  key: string | null,
): ProxyError {
  return errorFor(host, codeForType(type), scrub(message, key), undefined);
}

function errorFor(
  host: ExternalHostConfig,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> | undefined,
): ProxyError {
  if (code === "upstream_credentials") {
    return new ProxyError(
      code,
      `external host "${host.key}" refused the proxy's API key: a configuration problem on the proxy (tell its operator), not a problem with your token`,
    );
  }
  return new ProxyError(code, `${host.key}: ${message}`, headers === undefined ? undefined : { headers });
}

/** Retry-After (and OpenAI's retry-after-ms) are the client's guide to backing off: kept. */
function retryHeaders(headers: IncomingHttpHeaders): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const name of ["retry-after", "retry-after-ms"]) {
    const v = headers[name];
    if (typeof v === "string") out[name] = v;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Removes the API key from text that came back from the provider (some echo what they were sent). */
export function scrub(text: string, key: string | null): string {
  return key !== null && key.length >= 8 ? text.split(key).join("[redacted]") : text;
}
