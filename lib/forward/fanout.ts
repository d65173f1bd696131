import type { IncomingMessage, ServerResponse } from "node:http";
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LimitsConfig } from "../config/types.js";
import { failRequest, type RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import type { Logger } from "../log/app-log.js";
import type { PeekedBody } from "../peek.js";
import type { Fleet } from "../routing/fleet.js";
import type { ServerState } from "../routing/server-state.js";

/** Longest answer kept from one server (copy and delete answer with an empty body or a short error). */
const MAX_ANSWER_BYTES = 64 * 1024;

interface Answer {
  server: ServerState;
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/**
 * Sends one small management request (copy, delete) to several servers and answers once:
 * with the first success if any server succeeded, else with the first server's error. Each
 * server that changed has its model list re-read.
 */
export async function fanOut(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  body: PeekedBody,
  servers: readonly ServerState[],
  fleet: Fleet,
  limits: LimitsConfig,
  log: Logger,
): Promise<void> {
  if (!body.complete) {
    failRequest(res, ctx, new ProxyError("body_too_large", "a copy or delete request body must be small"));
    return;
  }
  const payload = Buffer.concat(body.chunks);
  ctx.tSent = performance.now();
  const results = await Promise.allSettled(servers.map((s) => send(s, req, payload, limits)));
  if (res.destroyed) return;
  ctx.tHeaders = performance.now();
  const answers: Answer[] = [];
  for (const [i, r] of results.entries()) {
    const s = servers[i]!;
    if (r.status === "fulfilled") {
      answers.push(r.value);
      if (r.value.status < 300) fleet.refreshModels(s);
    } else {
      log.warn(
        { requestId: ctx.id, server: s.key, err: (r.reason as Error).message },
        "management request failed",
      );
    }
  }
  const pick = answers.find((a) => a.status < 300) ?? answers[0];
  if (pick === undefined) {
    const err = new ProxyError(
      "upstream_unreachable",
      `none of ${servers.map((s) => s.key).join(", ")} answered`,
    );
    failRequest(res, ctx, err);
    return;
  }
  ctx.server =
    answers
      .filter((a) => a.status < 300)
      .map((a) => a.server.key)
      .join(",") || pick.server.key;
  ctx.status = pick.status;
  ctx.attempts = servers.length;
  ctx.bytesOut = pick.body.length;
  const headers: Record<string, string> = {
    "x-request-id": ctx.id,
    "x-ollama-proxy-server": ctx.server,
    "content-length": String(pick.body.length),
  };
  const type = pick.headers["content-type"];
  if (type !== undefined) headers["content-type"] = type;
  res.writeHead(pick.status, headers);
  res.end(pick.body);
}

function send(
  server: ServerState,
  req: IncomingMessage,
  payload: Buffer,
  limits: LimitsConfig,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const make = server.config.protocol === "https" ? httpsRequest : request;
    const up = make(
      server.target,
      {
        method: req.method,
        path: req.url,
        agent: server.agent,
        headers: {
          "content-type": req.headers["content-type"] ?? "application/json",
          "content-length": payload.length,
          "x-request-id": req.headers["x-request-id"] ?? "",
        },
        timeout: limits.upstreamFirstByteTimeoutMs,
      },
      (r) => {
        const chunks: Buffer[] = [];
        let size = 0;
        r.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(c);
        });
        r.on("end", () =>
          resolve({ server, status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(chunks) }),
        );
        r.on("error", reject);
      },
    );
    up.on("timeout", () => up.destroy(new Error("timed out")));
    up.on("error", reject);
    up.end(payload);
  });
}
