import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { BlockList } from "node:net";
import { newContext, type RequestContext } from "../context.js";
import { dialectOf, ProxyError } from "../errors.js";
import { acceptableRequestId, clientAddress } from "../http/headers.js";
import { type Entry, endpointLabel, lookupEndpoint } from "./endpoints.js";

/** A request as the proxy first sees it: its context and the endpoint its path names (null: none). */
export interface Classified {
  readonly ctx: RequestContext;
  readonly entry: Entry | null;
  /** A path no Ollama endpoint can have, refused before anything else (400). */
  readonly badPath: ProxyError | null;
}

/**
 * The classify stage: gives the request its id (a sane client-given one is kept), finds the
 * endpoint its path names, the dialect it speaks and the client's address (through trusted
 * reverse proxies). It reads only the request line and headers.
 */
export function classify(req: IncomingMessage, trusted: BlockList | null): Classified {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const given = req.headers["x-request-id"];
  const id = typeof given === "string" && acceptableRequestId(given) ? given : randomUUID();
  const address = clientAddress(req.socket.remoteAddress ?? "", req.headers["x-forwarded-for"], trusted);
  const entry = lookupEndpoint(path);
  return {
    ctx: newContext(id, req.method ?? "GET", path, dialectOf(path), address, endpointLabel(path, entry)),
    entry,
    badPath: unnormalised(path, entry),
  };
}

/** `.` or `..` as a path segment, also percent-encoded. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;
/** A slash or backslash hidden from the segment split (encoded), or an empty segment. */
const HIDDEN_SEPARATOR = /%2f|%5c|\\|\/\//i;

/**
 * Paths are matched as they are and some are forwarded verbatim (`/api/experimental/...`,
 * `/api/blobs/...`): a dot segment or a hidden separator there could mean another endpoint to
 * a hop that normalises it (`/api/experimental/../pull`). No Ollama path has one, so such a
 * path is refused rather than normalised. Model names in `/v1/models/{model}` (answered here,
 * never forwarded) may hold an encoded `/`.
 */
function unnormalised(path: string, entry: Entry | null): ProxyError | null {
  if (DOT_SEGMENT.test(path))
    return new ProxyError("bad_request", "the request path has a '.' or '..' segment");
  const modelInfo = entry?.endpoint.kind === "local" && entry.endpoint.answer === "model-info";
  if (!modelInfo && HIDDEN_SEPARATOR.test(path))
    return new ProxyError("bad_request", "the request path has an encoded or doubled separator");
  return null;
}
