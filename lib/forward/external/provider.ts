import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { ExternalHostConfig, LimitsConfig } from "../../config/types.js";
import { VERSION } from "../../version.js";
import { type UpstreamTimeout, upstreamError, watchDeadlines } from "../upstream.js";

/** Anthropic's API version header; 2023-06-01 is the one its docs and SDKs send. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** One request on its way to a provider. */
export interface ProviderCall {
  /** Resolves with the response head (any status), or rejects with a ProxyError (unreachable, timed out). */
  readonly response: Promise<IncomingMessage>;
  /** Abandons the request (the client left): the provider sees its connection close. */
  abort(): void;
  /** The deadline that ended the call, if one did: the body stream itself only says "aborted". */
  ended(): UpstreamTimeout | null;
}

/**
 * Keep-alive agents, one per external host (per origin, so a SIGHUP that moves a host gets a
 * fresh pool). TLS sessions are reused by the https agent, which is most of the cost of a call.
 */
export class ProviderAgents {
  private readonly agents = new Map<string, HttpAgent>();

  /** The agent for a host, created on first use. */
  get(host: ExternalHostConfig): HttpAgent {
    const id = `${host.key} ${host.origin}`;
    let agent = this.agents.get(id);
    if (agent === undefined) {
      const opts = { keepAlive: true, maxSockets: 256, maxFreeSockets: 16, scheduling: "lifo" as const };
      agent = host.protocol === "https" ? new HttpsAgent(opts) : new HttpAgent(opts);
      this.agents.set(id, agent);
    }
    return agent;
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

/**
 * The headers a provider gets, built from nothing: its own key in its own header, and none of
 * the client's (its Authorization is for us; its cookies and addresses are nobody else's business).
 */
export function providerHeaders(
  host: ExternalHostConfig,
  key: string | null,
  bytes: number,
  stream: boolean,
) {
  const h: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(bytes),
    accept: stream ? "text/event-stream" : "application/json",
    "user-agent": `ollama-proxy/${VERSION}`,
  };
  if (host.type === "anthropic") {
    h["anthropic-version"] = ANTHROPIC_VERSION;
    if (key !== null) h["x-api-key"] = key;
  } else if (key !== null) {
    h.authorization = `Bearer ${key}`;
  }
  return h;
}

/**
 * What an Anthropic client says about the API it speaks — its `anthropic-version` and the
 * `anthropic-beta` features its body uses (Claude Code sends several) — carried to an Anthropic
 * host when its /v1/messages body goes there as it is: without them the body may mean
 * something else, or be refused.
 */
export function anthropicClientHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["anthropic-version", "anthropic-beta"]) {
    const v = headers[name];
    if (typeof v === "string" && v !== "") out[name] = v;
    else if (Array.isArray(v) && v.length > 0) out[name] = v.join(",");
  }
  return out;
}

/**
 * POSTs a JSON body to `host` at `basePath + path`, with the proxy's deadlines (connect, first
 * byte, then — once the caller has the head — silence between chunks).
 */
export function callProvider(
  host: ExternalHostConfig,
  agent: HttpAgent,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  limits: LimitsConfig,
): ProviderCall {
  const send = host.protocol === "https" ? httpsRequest : httpRequest;
  const req = send({
    host: host.host,
    port: host.port,
    method: "POST",
    path: host.basePath + path,
    headers,
    agent,
  });
  const deadlines = watchDeadlines(req, limits);
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", (res) => {
      deadlines.responded();
      resolve(res);
    });
    req.on("error", (err: NodeJS.ErrnoException) => reject(upstreamError(err, host.key)));
  });
  req.end(body);
  // A rejection nobody awaits (the client left first) must not become an unhandled one.
  response.catch(() => {});
  return { response, abort: () => req.destroy(), ended: () => deadlines.fired() };
}
