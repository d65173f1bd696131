import type { IncomingMessage, ServerResponse } from "node:http";
import { bodyForLog, type RequestContext } from "./context.js";
import { ProxyError } from "./errors.js";
import type { PeekedBody } from "./http/body.js";
import { failRequest } from "./http/respond.js";
import { type AnswerDeps, answer } from "./stages/answer.js";
import { type Auth, authenticate } from "./stages/authenticate.js";
import { classify } from "./stages/classify.js";
import { type Entry, isCloudModel } from "./stages/endpoints.js";
import { type ForwardDeps, forward } from "./stages/forward.js";
import { peekBody } from "./stages/peek.js";
import { recordOnClose } from "./stages/record.js";
import { route, routeRaw } from "./stages/route.js";

/** Everything the stages need, built once by startServer (the config behind `config()` changes on SIGHUP). */
export interface PipelineDeps extends ForwardDeps, AnswerDeps {
  readonly auth: Auth;
  /** A response is over (the server counts what is still running, to drain). */
  requestEnded(): void;
}

/** Bodies up to this size are kept whole, so that a refused connection can be retried on another server. */
export const REPLAY_BYTES = 1024 * 1024;

/** The request handler: classify, then the stages in order, then one place that answers a refusal. */
export function createPipeline(d: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const { ctx, entry } = classify(req, d.trusted());
    res.setHeader("x-request-id", ctx.id);
    recordOnClose(res, ctx, d.telemetry, d.requestEnded);
    // A throw in a stage is a bug: it answers 500 (or cuts a response already started) and is
    // logged, instead of ending the process and every stream in it.
    const crash = (err: unknown) => {
      d.log.error({ err, requestId: ctx.id, path: ctx.path }, "request handler failed");
      failRequest(res, ctx, new ProxyError("internal", "internal error in ollama-proxy", { cause: err }));
    };
    run(d, req, res, ctx, entry).then((refusal) => {
      if (refusal !== undefined) failRequest(res, ctx, refusal);
    }, crash);
  };
}

/**
 * The request path, one stage after the other. Each stage returns its result or the
 * ProxyError the client is answered with; only the last one (an answer of the proxy's own,
 * or forward) writes the response.
 */
async function run(
  d: PipelineDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  entry: Entry | null,
): Promise<ProxyError | undefined> {
  const endpoint = entry?.endpoint;
  if (d.draining() && !(endpoint?.kind === "local" && endpoint.answer === "health")) return shuttingDown(res);
  // Public endpoints need no token; everything else does, unknown paths included (they reveal nothing).
  if (endpoint?.kind === "local" && endpoint.public)
    return wrongMethod(entry!, ctx) ?? answer(d, endpoint.answer, req, res, ctx.path, null);

  const user = authenticate(d.auth, req, ctx);
  if (user instanceof ProxyError) return user;
  ctx.user = user;
  if (entry === null || endpoint === undefined)
    return new ProxyError("not_found", `${ctx.path} is not an Ollama endpoint`);
  const refused = wrongMethod(entry, ctx);
  if (refused !== undefined) return refused;
  if (endpoint.kind === "local") return answer(d, endpoint.answer, req, res, ctx.path, user);
  if (endpoint.admin && user.role !== "admin")
    return new ProxyError("forbidden", `forbidden: ${ctx.path} needs an admin token`);

  const config = d.config();
  if (endpoint.kind === "raw") {
    if (endpoint.cloud && !config.allowCloud) return cloudRefused(ctx.path);
    const target = routeRaw(d.fleet, req.headers);
    return target instanceof ProxyError ? target : forward(d, req, res, ctx, null, target);
  }

  const body = await peekBody(req, {
    keys: endpoint.keys,
    maxBytes: config.limits.maxBodyBytes,
    replayBytes: REPLAY_BYTES,
  });
  if (body instanceof ProxyError) return body;
  noteBody(ctx, body, req, config.logging.logBodies);
  if (!config.allowCloud && isCloudModel(body.model)) return cloudRefused(body.model);

  // authorize — per-user policy goes here: may this user use body.model, now, with these options?

  const target = route(d.fleet, config, endpoint, body.model, req.headers);
  if (target instanceof ProxyError) return target;

  // admit — the scheduler goes here: wait for a slot on one of the target's servers.

  return forward(d, req, res, ctx, body, target);
}

/** What peek learned goes on the request's record: its model, its size, and its text when log_bodies asks. */
function noteBody(ctx: RequestContext, body: PeekedBody, req: IncomingMessage, logBodies: boolean): void {
  ctx.model = body.model;
  ctx.bytesIn = body.kind === "whole" ? body.bytes : Number(req.headers["content-length"] ?? 0);
  if (logBodies) {
    ctx.requestBody =
      body.kind === "whole"
        ? bodyForLog(body.chunks, body.bytes)
        : `(streamed body of ${ctx.bytesIn} bytes, not kept for the log)`;
  }
}

/** A 405 must say what is allowed (RFC 9110 §15.5.6). */
function wrongMethod(entry: Entry, ctx: RequestContext): ProxyError | undefined {
  if (entry.methods.includes(ctx.method)) return undefined;
  return new ProxyError("method_not_allowed", `method ${ctx.method} is not allowed on ${ctx.path}`, {
    headers: { allow: entry.methods.join(", ") },
  });
}

/** While draining, everything but /health is refused and the connection closes; running requests go on. */
function shuttingDown(res: ServerResponse): ProxyError {
  res.setHeader("connection", "close");
  return new ProxyError("shutting_down", "ollama-proxy is shutting down", {
    headers: { "retry-after": "5" },
  });
}

function cloudRefused(what: string): ProxyError {
  return new ProxyError(
    "forbidden",
    `forbidden: ${what} uses Ollama's cloud, which this proxy does not allow (allow_cloud: false)`,
  );
}
