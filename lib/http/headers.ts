import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { BlockList } from "node:net";

/**
 * Headers that never cross the proxy toward a backend: hop-by-hop headers (RFC 9110 §7.6.1),
 * the client's own credentials (its token is for us, not for Ollama), `expect` (Node already
 * answered 100-continue) and our own routing header.
 */
const DROP_REQUEST = new Set([
  "authorization",
  "proxy-authorization",
  // Keys for other APIs (Anthropic's SDKs send x-api-key): never a backend's business.
  "x-api-key",
  "api-key",
  "cookie",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "x-ollama-proxy-server",
  // set below, from what the proxy knows (a client's own claims are replaced)
  "content-length",
  "x-request-id",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-real-ip",
  "forwarded",
]);

/** Hop-by-hop headers of a backend's response; Node writes its own framing. */
const DROP_RESPONSE = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "trailer",
  "te",
]);

/** What the proxy knows about a request that its backend is told. */
export interface Provenance {
  readonly requestId: string;
  /** The socket's peer (a trusted reverse proxy, or the client itself). */
  readonly peer: string;
  /** The client's address as the proxy determined it (through trusted proxies). */
  readonly client: string;
  readonly trusted: BlockList | null;
  /** How the client reached the proxy. */
  readonly proto: "http" | "https";
  /** The body's length when the proxy holds it whole; null to keep the client's framing. */
  readonly contentLength: number | null;
}

/**
 * The headers a client's request goes to a backend with: a new object holding what may cross
 * (the forwarder sends it as the upstream request's headers). Building it fresh, rather than
 * deleting from the client's, keeps it a fast-mode object for Node's serialisation.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, p: Provenance): IncomingHttpHeaders {
  // Tokens named in Connection are hop-by-hop too ("Connection: X-Foo" drops X-Foo).
  const connection = headers.connection;
  const named =
    connection === undefined
      ? null
      : connection
          .toLowerCase()
          .split(",")
          .map((n) => n.trim());
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (!DROP_REQUEST.has(name) && (named === null || !named.includes(name))) out[name] = headers[name];
  }
  // Every body goes framed as the client's was: by its length, else chunked. Node frames a
  // body without either only for POST-like methods; for any other it would follow the head
  // raw on the keep-alive connection, where the backend reads it as the next request.
  const length = p.contentLength ?? headers["content-length"];
  if (length !== undefined) out["content-length"] = String(length);
  else if (headers["transfer-encoding"] !== undefined) out["transfer-encoding"] = "chunked";
  out["x-request-id"] = p.requestId;
  // Only a proxy we trust may tell us who the client is; anyone else's claim is replaced.
  const xff = headers["x-forwarded-for"];
  out["x-forwarded-for"] =
    xff !== undefined && p.trusted !== null && isTrusted(p.trusted, p.peer) ? `${xff}, ${p.peer}` : p.peer;
  out["x-real-ip"] = p.client;
  out["x-forwarded-proto"] = p.proto;
  if (headers.host !== undefined) out["x-forwarded-host"] = headers.host;
  return out;
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy, in which case
 * the nearest address in X-Forwarded-For that is not itself a trusted proxy. It is what the
 * failed-auth limit counts and the request log records, so that clients behind one reverse
 * proxy are not lumped together.
 */
export function clientAddress(
  peer: string,
  xff: string | string[] | undefined,
  trusted: BlockList | null,
): string {
  if (trusted === null || typeof xff !== "string" || !isTrusted(trusted, peer)) return peer;
  const hops = xff.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop !== "" && (i === 0 || !isTrusted(trusted, hop))) return hop;
  }
  return peer;
}

function isTrusted(list: BlockList, address: string): boolean {
  const v4mapped = address.startsWith("::ffff:") ? address.slice(7) : null;
  if (v4mapped !== null && list.check(v4mapped, "ipv4")) return true;
  return list.check(address, address.includes(":") ? "ipv6" : "ipv4");
}

/** The headers of a backend's response as the client gets them, plus ours. */
export function responseHeaders(
  upstream: IncomingHttpHeaders,
  requestId: string,
  server: string,
  overheadMs: number,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  // As for requests, headers the backend names in its Connection header are hop-by-hop too.
  const named = new Set((upstream.connection ?? "").split(",").map((n) => n.trim().toLowerCase()));
  for (const name in upstream) {
    if (!DROP_RESPONSE.has(name) && !named.has(name)) out[name] = upstream[name];
  }
  out["x-request-id"] = requestId;
  out["x-ollama-proxy-server"] = server;
  out["x-ollama-proxy-overhead-ms"] = overheadMs.toFixed(2);
  return out;
}

/** A client's X-Request-Id is kept when it is short and printable; anything else gets a fresh id. */
export function acceptableRequestId(id: string | undefined): id is string {
  if (id === undefined || id.length === 0 || id.length > 128) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === 0x5f ||
      c === 0x2e ||
      c === 0x3a;
    if (!ok) return false;
  }
  return true;
}
