import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LimitsConfig } from "../config/types.js";
import type { RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import type { PeekedBody } from "../http/body.js";
import { type ReadBounds, readBounded, requestBounds } from "../http/body.js";
import { failRequest } from "../http/respond.js";
import type { Logger } from "../log/app-log.js";
import type { Fleet } from "../routing/fleet.js";
import type { ServerState } from "../routing/server-state.js";
import { upstreamError, watchDeadlines } from "./upstream.js";

/** Longest answer read from one server (copy and delete answer with an empty body or a short error). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** A management request (copy, delete) for every server that has the model. */
export interface FanOutRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: RequestContext;
  readonly body: PeekedBody;
  readonly servers: readonly ServerState[];
}

interface Answer {
  readonly server: ServerState;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Sends one small management request to several servers and answers once: with the first
 * success if any server succeeded, else with the first server's error. Each server that
 * changed has its model list re-read.
 */
export async function fanOut(
  x: FanOutRequest,
  env: { fleet: Fleet; limits: LimitsConfig; log: Logger },
): Promise<void> {
  const { req, res, ctx } = x;
  const payload =
    x.body.kind === "whole"
      ? Buffer.concat(x.body.chunks, x.body.bytes)
      : await readBounded(req, requestBounds(env.limits.maxBodyBytes));
  if (payload instanceof ProxyError) return failRequest(res, ctx, payload);
  ctx.bytesIn = payload.length;
  ctx.tSent = performance.now();
  const results = await Promise.allSettled(x.servers.map((s) => send(s, req, payload, env.limits)));
  if (res.destroyed) return;
  ctx.tHeaders = performance.now();
  const answers: Answer[] = [];
  for (const [i, r] of results.entries()) {
    const s = x.servers[i]!;
    if (r.status === "fulfilled") {
      answers.push(r.value);
      if (r.value.status < 300) env.fleet.refreshModels(s);
    } else {
      env.log.warn(
        { requestId: ctx.id, server: s.key, err: (r.reason as Error).message },
        "management request failed",
      );
    }
  }
  const pick = answers.find((a) => a.status < 300) ?? answers[0];
  if (pick === undefined) {
    const why = results.map((r) => (r.status === "rejected" ? (r.reason as Error).message : "")).join("; ");
    return failRequest(res, ctx, new ProxyError("upstream_unreachable", `no server answered: ${why}`));
  }
  ctx.server =
    answers
      .filter((a) => a.status < 300)
      .map((a) => a.server.key)
      .join(",") || pick.server.key;
  ctx.status = pick.status;
  ctx.attempts = x.servers.length;
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

/** One server's part: the request with the proxy's deadlines, its answer read whole (bounded). */
function send(
  server: ServerState,
  req: IncomingMessage,
  payload: Buffer,
  limits: LimitsConfig,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const make = server.config.protocol === "https" ? httpsRequest : request;
    const up = make(server.target, {
      method: req.method,
      path: req.url,
      agent: server.agent,
      headers: {
        "content-type": req.headers["content-type"] ?? "application/json",
        "content-length": payload.length,
        "x-request-id": req.headers["x-request-id"] ?? "",
      },
    });
    const deadlines = watchDeadlines(up, limits);
    const answerBounds: ReadBounds = {
      max: MAX_ANSWER_BYTES,
      tooLarge: () =>
        new ProxyError(
          "upstream_bad_response",
          `${server.key} answered with more than ${MAX_ANSWER_BYTES} bytes`,
        ),
      broken: (err) => upstreamError(err, server.key),
    };
    up.on("response", (r) => {
      deadlines.responded();
      readBounded(r, answerBounds).then((body) => {
        if (body instanceof ProxyError) {
          r.destroy();
          reject(body);
        } else {
          resolve({ server, status: r.statusCode ?? 502, headers: r.headers, body });
        }
      });
    });
    up.on("error", (err) => reject(upstreamError(err, server.key)));
    up.end(payload);
  });
}
