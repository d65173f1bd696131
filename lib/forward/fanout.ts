import type { IncomingMessage, ServerResponse } from "node:http";
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LimitsConfig } from "../config/types.js";
import type { RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import { type PeekedBody, type ReadBounds, readBounded, wholeBody } from "../http/body.js";
import { failRequest, sendJson } from "../http/respond.js";
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
  readonly body: Buffer;
}

/** One server's part in a fan-out, as the answer's `servers` list reports it. */
export interface ServerResult {
  readonly server: string;
  readonly ok: boolean;
  /** The server's status, or the proxy's (502, 504) when it could not be reached. */
  readonly status: number;
  /** The server's error message, or why it could not be reached; absent on success. */
  readonly error?: string;
}

/**
 * Sends one small management request (copy, delete) to several servers at once and answers
 * with every server's result: `{"status": "success", "servers": [...]}` when all succeeded;
 * else `{"error": "...", "servers": [...]}` naming each server that failed — with that
 * server's status when none succeeded, 502 when only some did. Ollama's clients read nothing
 * from a successful copy or delete and the `error` string from a failed one, so they work
 * unchanged; `ollama-proxy models` reads the list. Each server that changed has its model
 * list re-read.
 */
export async function fanOut(
  x: FanOutRequest,
  env: { fleet: Fleet; limits: LimitsConfig; log: Logger },
): Promise<void> {
  const { req, res, ctx } = x;
  const payload = await wholeBody(req, x.body, env.limits.maxBodyBytes);
  if (payload instanceof ProxyError) return failRequest(res, ctx, payload);
  ctx.bytesIn = payload.length;
  ctx.tSent = performance.now();
  const settled = await Promise.allSettled(x.servers.map((s) => send(s, req, payload, env.limits)));
  if (res.destroyed) return;
  ctx.tHeaders = performance.now();
  const results = settled.map((r, i): ServerResult => {
    const server = x.servers[i]!;
    if (r.status === "fulfilled") {
      if (r.value.status < 300) {
        env.fleet.refreshModels(server);
        return { server: server.key, ok: true, status: r.value.status };
      }
      return { server: server.key, ok: false, status: r.value.status, error: ollamaError(r.value) };
    }
    const err = r.reason as Error;
    env.log.warn({ requestId: ctx.id, server: server.key, err: err.message }, "management request failed");
    return {
      server: server.key,
      ok: false,
      status: err instanceof ProxyError ? err.status : 502,
      error: err.message,
    };
  });
  const done = results.filter((r) => r.ok).map((r) => r.server);
  const failed = results.filter((r) => !r.ok);
  ctx.server = done.join(",") || x.servers[0]!.key;
  ctx.attempts = x.servers.length;
  let status: number;
  let body: Record<string, unknown>;
  if (failed.length === 0) {
    status = 200;
    body = { status: "success", servers: results };
  } else {
    status = done.length === 0 ? failed[0]!.status : 502;
    const what = failed.map((r) => `${r.server}: ${r.error}`).join("; ");
    const message = done.length === 0 ? what : `done on ${done.join(", ")}; failed on ${what}`;
    // Only the proxy's own 502 is its error; a 404 every server gave is theirs, as when forwarded.
    if (done.length > 0) ctx.errorCode = "upstream_error";
    ctx.errorMessage = message;
    body = { error: message, servers: results };
  }
  ctx.status = status;
  sendJson(res, status, body, { "x-ollama-proxy-server": ctx.server });
  ctx.bytesOut = Number(res.getHeader("content-length") ?? 0);
}

/** The message of a server's error answer: Ollama's `{"error": "..."}`, else its text, else its status. */
function ollamaError(a: Answer): string {
  const text = a.body.toString("utf8");
  try {
    const e = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof e === "string") return e;
  } catch {
    // not JSON: the text itself
  }
  return text.trim().slice(0, 200) || `answered ${a.status}`;
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
          resolve({ server, status: r.statusCode ?? 502, body });
        }
      });
    });
    up.on("error", (err) => reject(upstreamError(err, server.key)));
    up.end(payload);
  });
}
