import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** The proxy a client talks to: where it is, the token, and the private CA to trust (PEM), if any. */
export interface FrontDoor {
  readonly url: URL;
  readonly token: string;
  readonly ca: string | null;
}

/** Ollama's port: what a bare `host` means to the `ollama` command, and so here. */
const OLLAMA_PORT = "11434";

/**
 * The proxy URL a user typed, normalised: `host` or `host:port` means `http://` (a bare host
 * gets Ollama's port 11434, as OLLAMA_HOST does); an explicit scheme keeps its own default
 * port. A path is kept (a proxy behind a reverse proxy under `/ollama`), without its trailing
 * slash. Returns an error message for anything else.
 */
export function parseProxyUrl(text: string): URL | string {
  const input = text.trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input);
  let url: URL;
  try {
    url = new URL(hasScheme ? input : `http://${input}`);
  } catch {
    return `"${text}" is not a URL: give the proxy's address, e.g. https://gpu.example.com or gpu.example.com:11434`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return `"${text}": only http:// and https:// URLs are supported`;
  if (url.username !== "" || url.password !== "")
    return `"${text}": put no credentials in the URL; the token is asked for separately`;
  if (url.search !== "" || url.hash !== "") return `"${text}": the URL may not have a ?query or #fragment`;
  if (!hasScheme && url.port === "") url.port = OLLAMA_PORT;
  url.pathname = url.pathname.replace(/\/+$/, "");
  return url;
}

/** The URL as stored and shown: no trailing slash. */
export function formatProxyUrl(url: URL): string {
  return `${url.origin}${url.pathname === "/" ? "" : url.pathname}`;
}

/** Reads a CA file and checks that it holds a PEM certificate; returns the PEM or an error message. */
export function readCa(path: string): { pem: string } | { error: string } {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (err) {
    return { error: `cannot read the CA file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}` };
  }
  try {
    new X509Certificate(pem);
  } catch {
    return { error: `${path} does not hold a PEM certificate (-----BEGIN CERTIFICATE-----)` };
  }
  return { pem };
}

/**
 * A keep-alive agent for the proxy: HTTPS when its URL is, trusting only the private CA when
 * one is given (Node's `ca` replaces the built-in roots). Nagle is off so that every streamed
 * chunk leaves at once.
 */
export function frontDoorAgent(door: FrontDoor): HttpAgent {
  const common = { keepAlive: true, noDelay: true, scheduling: "lifo" as const };
  if (door.url.protocol === "https:")
    return new HttpsAgent({ ...common, ...(door.ca ? { ca: door.ca } : {}) });
  return new HttpAgent(common);
}

/** Sends a request to the proxy; `path` is appended to the URL's own path. */
export function requestFrontDoor(
  door: FrontDoor,
  agent: HttpAgent,
  options: { method: string; path: string; headers: OutgoingHttpHeaders },
) {
  const send = door.url.protocol === "https:" ? httpsRequest : httpRequest;
  return send({
    protocol: door.url.protocol,
    hostname: door.url.hostname.replace(/^\[|\]$/g, ""),
    port: door.url.port || (door.url.protocol === "https:" ? 443 : 80),
    method: options.method,
    path: `${door.url.pathname === "/" ? "" : door.url.pathname}${options.path}`,
    headers: options.headers,
    agent,
  });
}

/** What GET /proxy/me says about the caller (ollama-proxy's answer; policies may add fields). */
export interface Me {
  name: string;
  role: string;
  policy: string | null;
  expires_at: string | null;
  models: string[];
}

/** The answer to "who am I?", or why there is none. */
export type MeResult =
  | { kind: "ok"; me: Me }
  /** The proxy refused the token (401/403/429), with its reason. */
  | { kind: "refused"; status: number; reason: string }
  /** Something answered, but not as ollama-proxy does (a plain Ollama answers 404). */
  | { kind: "not-proxy"; status: number; detail: string }
  /** The proxy failed (5xx) with its reason. */
  | { kind: "failed"; status: number; reason: string }
  | { kind: "unreachable"; reason: string };

const ME_LIMIT = 1 << 20;

/** Asks the proxy who the token belongs to (GET /proxy/me). */
export async function askMe(door: FrontDoor, timeoutMs = 10_000): Promise<MeResult> {
  const agent = frontDoorAgent(door);
  try {
    const { status, body } = await getText(door, agent, "/proxy/me", timeoutMs);
    return meResult(status, body);
  } catch (err) {
    return { kind: "unreachable", reason: describeNetworkError(err, door.url) };
  } finally {
    agent.destroy();
  }
}

function getText(
  door: FrontDoor,
  agent: HttpAgent,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = requestFrontDoor(door, agent, {
      method: "GET",
      path,
      headers: { authorization: `Bearer ${door.token}`, accept: "application/json" },
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: "ETIMEDOUT" })),
    );
    req.on("error", reject);
    req.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > ME_LIMIT) req.destroy(new Error(`the answer to ${path} is over ${ME_LIMIT} bytes`));
        else chunks.push(c);
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.end();
  });
}

function meResult(status: number, body: string): MeResult {
  let data: unknown = null;
  try {
    data = JSON.parse(body);
  } catch {
    // not JSON: judged below by status
  }
  const reason = errorText(data) ?? (body.trim().slice(0, 200) || `HTTP ${status}`);
  if (status === 200) {
    return isMe(data)
      ? { kind: "ok", me: data }
      : { kind: "not-proxy", status, detail: "its answer to /proxy/me is not ollama-proxy's" };
  }
  if (status === 401 || status === 403 || status === 429) {
    // ollama-proxy says why in {"error"}; anything else refusing us is not a proxy we know.
    return errorText(data) !== null
      ? { kind: "refused", status, reason }
      : { kind: "not-proxy", status, detail: `it answered ${status} without ollama-proxy's {"error"}` };
  }
  if (status === 404 || status === 405)
    return { kind: "not-proxy", status, detail: `it answered ${status} ${reason}` };
  if (status >= 500 && errorText(data) !== null) return { kind: "failed", status, reason };
  return { kind: "not-proxy", status, detail: `it answered ${status} ${reason}` };
}

function errorText(data: unknown): string | null {
  if (typeof data !== "object" || data === null) return null;
  const e = (data as { error?: unknown }).error;
  if (typeof e === "string") return e;
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string")
    return (e as { message: string }).message;
  return null;
}

function isMe(data: unknown): data is Me {
  if (typeof data !== "object" || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    typeof d.name === "string" &&
    typeof d.role === "string" &&
    Array.isArray(d.models) &&
    d.models.every((m) => typeof m === "string")
  );
}

/** A network failure reaching the proxy, in words that say what to check. */
export function describeNetworkError(err: unknown, url: URL): string {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const where = formatProxyUrl(url);
  switch (code) {
    case "ECONNREFUSED":
      return `nothing listens at ${where} (connection refused): check the host and port`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve ${url.hostname} (${code}): check the host name`;
    case "ETIMEDOUT":
      return `no answer from ${where} (${(err as Error).message}): is the host reachable from here?`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${url.hostname} cannot be reached from this machine (${code})`;
    case "ECONNRESET":
    case "EPROTO":
    case "ERR_SSL_WRONG_VERSION_NUMBER":
      return url.protocol === "https:"
        ? `${where} does not speak HTTPS (${code}): try http://`
        : `${where} closed the connection (${code}): if it serves HTTPS, use an https:// URL`;
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "CERT_UNTRUSTED":
      return `the TLS certificate of ${where} is not trusted (${code}): if it comes from a private CA, run \`ollama-proxy login ${where} --ca CA.pem\` with that CA's certificate`;
    case "CERT_HAS_EXPIRED":
      return `the TLS certificate of ${where} has expired: tell the proxy's operator`;
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `the TLS certificate of ${where} is not for ${url.hostname}: use the host name the certificate names`;
  }
  return `cannot reach ${where}: ${(err as Error).message ?? err}${code ? ` (${code})` : ""}`;
}
