import type { IncomingMessage, ServerResponse } from "node:http";
import { bodyForLog, type RequestContext } from "./context.js";
import { ProxyError } from "./errors.js";
import { hasBody, type PeekedBody } from "./http/body.js";
import { failRequest } from "./http/respond.js";
import type { Policies } from "./policy/policies.js";
import type { Scheduler } from "./schedule/types.js";
import { admit } from "./stages/admit.js";
import { type AnswerDeps, answer } from "./stages/answer.js";
import { type Auth, authenticate } from "./stages/authenticate.js";
import { authorize, policyOf } from "./stages/authorize.js";
import { classify } from "./stages/classify.js";
import { type Entry, isCloudModel } from "./stages/endpoints.js";
import { type ForwardDeps, forward } from "./stages/forward.js";
import { peekBody } from "./stages/peek.js";
import { peekForm } from "./stages/peek-form.js";
import { recordOnClose } from "./stages/record.js";
import { route, routeRaw } from "./stages/route.js";

/** Everything the stages need, built once by startServer (the config behind `config()` changes on SIGHUP). */
export interface PipelineDeps extends ForwardDeps, AnswerDeps {
  readonly auth: Auth;
  readonly policies: Policies;
  /** The scheduler, when some server has `parallel` (else requests go straight on). */
  scheduler(): Scheduler | null;
  /** A response is over (the server counts what is still running, to drain). */
  requestEnded(): void;
}

/** Bodies up to this size are kept whole, so that a refused connection can be retried on another server. */
export const REPLAY_BYTES = 1024 * 1024;

/** The request handler: classify, then the stages in order, then one place that answers a refusal. */
export function createPipeline(d: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const { ctx, entry, badPath } = classify(req, d.trusted());
    res.setHeader("x-request-id", ctx.id);
    recordOnClose(res, ctx, d.telemetry, d.requestEnded);
    if (hasBody(req)) watchBody(req, res, ctx, d.limits().bodyTimeoutMs);
    // A throw in a stage is a bug: it answers 500 (or cuts a response already started) and is
    // logged, instead of ending the process and every stream in it.
    const crash = (err: unknown) => {
      d.log.error({ err, requestId: ctx.id, path: ctx.path }, "request handler failed");
      failRequest(res, ctx, new ProxyError("internal", "internal error in ollama-proxy", { cause: err }));
    };
    (badPath === null ? run(d, req, res, ctx, entry) : Promise.resolve(badPath)).then((refusal) => {
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
  const config = d.config();
  const policies = config.policies === null ? null : d.policies;
  const policy = policyOf(policies, user, d.log, ctx);
  if (policy instanceof ProxyError) return policy;
  if (entry === null || endpoint === undefined)
    return new ProxyError("not_found", `${ctx.path} is not an Ollama endpoint`);
  const refused = wrongMethod(entry, ctx);
  if (refused !== undefined) return refused;
  if (endpoint.kind === "local") return answer(d, endpoint.answer, req, res, ctx.path, { user, policy });
  if (endpoint.admin && user.role !== "admin")
    return new ProxyError("forbidden", `forbidden: ${ctx.path} needs an admin token`);

  if (endpoint.kind === "raw") {
    if (endpoint.cloud && !config.allowCloud) return cloudRefused(ctx.path);
    // A body on a method that takes none would reach the backend unframed: it is refused.
    if (!BODY_METHODS.has(ctx.method) && hasBody(req))
      return new ProxyError("bad_request", `${ctx.method} ${ctx.path} takes no request body`);
    const target = routeRaw(d.fleet, req.headers);
    return target instanceof ProxyError ? target : forward(d, req, res, ctx, null, target);
  }

  const peeked =
    endpoint.body === "form"
      ? await peekForm(req, { field: endpoint.keys[0]!, maxBytes: config.limits.maxBodyBytes })
      : await peekBody(req, {
          keys: endpoint.keys,
          maxBytes: config.limits.maxBodyBytes,
          replayBytes: REPLAY_BYTES,
        });
  if (peeked instanceof ProxyError) return peeked;
  // An uploaded form is audio, not text for the log.
  noteBody(ctx, peeked, req, config.logging.logBodies && endpoint.body === "json");
  if (!config.allowCloud && isCloudModel(peeked.model)) return cloudRefused(peeked.model);

  const body =
    policies === null
      ? peeked
      : await authorize(policies, policy, endpoint, peeked, req, res, ctx, config.limits.maxBodyBytes);
  if (body instanceof ProxyError) return body;

  const target = route(d.fleet, config, endpoint, body.model, req.headers);
  if (target instanceof ProxyError) return target;

  const weight = policies === null ? 1 : policies.weight(policy);
  const scheduler = d.scheduler();
  const grant =
    scheduler === null ? null : await admit(scheduler, endpoint, target, body.model, weight, res, ctx);
  if (grant instanceof ProxyError) return grant;
  if (res.destroyed) {
    // The client left as its turn came: the slot goes to the next one.
    grant?.release();
    return;
  }

  const notSent = forward(d, req, res, ctx, body, target, grant);
  if (notSent !== undefined) grant?.release();
  return notSent;
}

/** Methods whose requests carry a body to the backend (framed by its length or chunked). */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * A body that makes no progress for `ms` gets 408 (or, once an answer is under way, its
 * connection cut): without it a slow upload holds a connection for the whole request timeout.
 */
function watchBody(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, ms: number): void {
  req.setTimeout(ms, () => {
    if (req.complete) return;
    failRequest(
      res,
      ctx,
      new ProxyError("request_timeout", `the request body made no progress for ${ms / 1000} s`),
    );
  });
  req.once("end", () => req.setTimeout(0));
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
