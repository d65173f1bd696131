import type { IncomingMessage, ServerResponse } from "node:http";
import type { BlockList } from "node:net";
import type { LimitsConfig } from "../config/types.js";
import type { RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import type { ExternalForwarder } from "../forward/external/forward.js";
import { fanOut } from "../forward/fanout.js";
import type { OllamaForwarder } from "../forward/ollama.js";
import type { PeekedBody } from "../http/body.js";
import { upstreamHeaders } from "../http/headers.js";
import type { Logger } from "../log/app-log.js";
import type { Telemetry } from "../observe/telemetry.js";
import type { Fleet } from "../routing/fleet.js";
import type { Grant } from "../schedule/types.js";
import type { Target } from "./route.js";

/** What the forward stage hands requests to. */
export interface ForwardDeps {
  readonly fleet: Fleet;
  readonly ollama: OllamaForwarder;
  readonly external: ExternalForwarder;
  readonly telemetry: Telemetry;
  readonly log: Logger;
  limits(): LimitsConfig;
  trusted(): BlockList | null;
}

/**
 * The forward stage: the request leaves for its target — Ollama servers (streamed both ways,
 * failover before the first byte), every server that has a model (fan-out), or an external
 * host (translated). From here on the forwarder owns the response.
 */
export function forward(
  d: ForwardDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  body: PeekedBody | null,
  target: Target,
  grant: Grant | null = null,
): ProxyError | undefined {
  if (target.kind === "external") {
    if (body === null) return new ProxyError("internal", "an external host needs the request body");
    d.external.forward({ req, res, ctx, body, host: target.host, model: target.model });
    return;
  }
  if (body !== null && body.kind === "flowing" && body.declared === null && req.method !== "POST") {
    // Only POST endpoints take large bodies (delete and copy take a few bytes): a chunked body
    // over the replay size on another method is refused rather than streamed on.
    return new ProxyError("body_too_large", `a ${req.method} request body over 1 MB must declare its length`);
  }
  if (body === null) ctx.bytesIn = Number(req.headers["content-length"] ?? 0);
  if (target.kind === "fanout") {
    if (body === null) return new ProxyError("internal", "a fan-out needs the request body");
    fanOut(
      { req, res, ctx, body, servers: target.servers },
      { fleet: d.fleet, limits: d.limits(), log: d.log },
    ).catch((err: Error) => {
      d.log.error({ requestId: ctx.id, err }, "fan-out failed");
      res.destroy();
    });
    return;
  }
  req.headers = upstreamHeaders(req.headers, {
    requestId: ctx.id,
    peer: req.socket.remoteAddress ?? "",
    client: ctx.address,
    trusted: d.trusted(),
    proto: "encrypted" in req.socket ? "https" : "http",
    contentLength: body?.kind === "whole" ? body.bytes : null,
  });
  const { fleet } = d;
  d.ollama.forward({
    req,
    res,
    ctx,
    body,
    tiers: target.tiers,
    idempotent: !target.management,
    grant,
    observer: body === null ? null : d.telemetry.observe(ctx),
    // After a successful pull, create or push, the server's model list is re-read once the response is over.
    onResponse: target.management
      ? (status, server) => {
          if (status < 300) res.once("close", () => fleet.refreshModels(server));
        }
      : null,
  });
}
