import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { ExternalHostConfig, LimitsConfig } from "../../config/types.js";
import { upstreamError } from "../../errors.js";
import { VERSION } from "../../version.js";

/** Anthropic's API version header; 2023-06-01 is the one its docs and SDKs send. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** One request on its way to a provider. */
export interface ProviderCall {
  /** Resolves with the response head (any status), or rejects with a ProxyError (unreachable, timed out). */
  readonly response: Promise<IncomingMessage>;
  /** The response head is in: from now on the deadline is one of silence, not of total time. */
  idle(ms: number): void;
  /** Abandons the request (the client left): the provider sees its connection close. */
  abort(): void;
  /** Why the proxy itself ended the call (a deadline), if it did: the body stream only says "aborted". */
  ended(): NodeJS.ErrnoException | null;
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
 * POSTs a JSON body to `host` at `basePath + path`, with the proxy's deadlines: connecting,
 * then the first byte of the answer (a provider may think for a long time before it), then —
 * once the caller has the head — silence between chunks.
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
  let req!: ClientRequest;
  let timeoutCode = "ECONNECT_TIMEOUT";
  let idleMs = 0;
  let ended: NodeJS.ErrnoException | null = null;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req = send({
      host: host.host,
      port: host.port,
      method: "POST",
      path: host.basePath + path,
      headers,
      agent,
    });
    req.setTimeout(limits.upstreamConnectTimeoutMs);
    req.once("socket", (socket) => {
      const connected = () => {
        timeoutCode = "ETIMEDOUT";
        req.setTimeout(limits.upstreamFirstByteTimeoutMs);
      };
      if (socket.connecting) socket.once(host.protocol === "https" ? "secureConnect" : "connect", connected);
      else connected();
    });
    req.on("timeout", () => {
      const message =
        timeoutCode === "ECONNECT_TIMEOUT"
          ? "connect timeout"
          : timeoutCode === "ETIMEDOUT"
            ? "no answer in time"
            : `no data for ${idleMs / 1000} s`;
      ended = Object.assign(new Error(message), { code: timeoutCode });
      req.destroy(ended);
    });
    req.once("response", resolve);
    req.on("error", (err: NodeJS.ErrnoException) => reject(upstreamError(err, host.key)));
    req.end(body);
  });
  // A rejection nobody awaits (the client left first) must not become an unhandled one.
  response.catch(() => {});
  return {
    response,
    idle(ms) {
      timeoutCode = "EIDLE_TIMEOUT";
      idleMs = ms;
      req.setTimeout(ms);
    },
    abort() {
      req.destroy();
    },
    ended: () => ended,
  };
}
