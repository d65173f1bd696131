import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { BlockList } from "node:net";
import { newContext, type RequestContext } from "../context.js";
import { dialectOf } from "../errors.js";
import { acceptableRequestId, clientAddress } from "../http/headers.js";
import { type Entry, endpointLabel, lookupEndpoint } from "./endpoints.js";

/** A request as the proxy first sees it: its context and the endpoint its path names (null: none). */
export interface Classified {
  readonly ctx: RequestContext;
  readonly entry: Entry | null;
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
  };
}
