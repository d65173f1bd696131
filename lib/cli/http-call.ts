import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { createInterface } from "node:readline";
import { isObject, type Json } from "../json.js";

// The few HTTP calls `ollama-proxy models` makes: small JSON answers read whole (bounded),
// and a pull's NDJSON progress read line by line as it streams.

/** One server's answer to a management call (as the proxy's fan-out reports it too). */
export interface ServerResult {
  readonly server: string;
  readonly ok: boolean;
  /** HTTP status, or null when the server could not be reached. */
  readonly status: number | null;
  readonly error?: string;
}

/** Longest a management answer (copy, delete, the inventory) may be. */
const ANSWER_LIMIT = 4 * 1024 * 1024;

/** One HTTP call with a JSON body; resolves with the response head (its body still to read). */
export function call(
  make: (headers: OutgoingHttpHeaders) => ClientRequest,
  headers: OutgoingHttpHeaders,
  body: Json | null,
  idleMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolvePromise, reject) => {
    const payload = body === null ? null : Buffer.from(JSON.stringify(body));
    const req = make({
      accept: "application/json",
      ...(payload === null ? {} : { "content-type": "application/json", "content-length": payload.length }),
      ...headers,
    });
    req.setTimeout(idleMs, () =>
      req.destroy(Object.assign(new Error(`no answer for ${idleMs / 1000} s`), { code: "ETIMEDOUT" })),
    );
    req.on("error", reject);
    req.on("response", resolvePromise);
    req.end(payload ?? undefined);
  });
}

/** A whole (small) answer as text. */
export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > ANSWER_LIMIT) {
      res.destroy();
      throw new Error(`the answer is larger than ${ANSWER_LIMIT} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Reads a pull's answer: NDJSON progress lines on success; an error status's body becomes
 * one `{"error"}` line, so that the caller sees every failure the same way.
 */
export async function streamLines(res: IncomingMessage, line: (l: Json) => void): Promise<void> {
  const status = res.statusCode ?? 0;
  if (status >= 300) {
    line({ error: errorOf(status, await readText(res)) });
    return;
  }
  const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of lines) {
    if (text.trim() === "") continue;
    const data = parseJson(text);
    line(isObject(data) ? data : { error: `not a progress line: ${text.slice(0, 200)}` });
  }
  if (res.errored || !res.complete) throw new Error("the connection was lost during the pull");
}

export function resultOf(server: string, status: number, text: string): ServerResult {
  if (status >= 200 && status < 300) return { server, ok: true, status };
  return { server, ok: false, status, error: errorOf(status, text) };
}

/** Ollama's (and the proxy's) `{"error": "..."}`, else the text, else the status. */
export function errorOf(status: number, text: string): string {
  const data = parseJson(text);
  if (isObject(data) && typeof data.error === "string") return data.error;
  return text.trim().slice(0, 200) || `HTTP ${status}`;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
