import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import { type PeekedBody, wholeBody } from "../http/body.js";
import type { Logger } from "../log/app-log.js";
import type { Policies, Policy } from "../policy/policies.js";
import type { User } from "../store/users.js";
import type { Endpoint } from "./endpoints.js";

/**
 * The policy a user is under, right after the token is checked; null when the config has no
 * `policies` (no limits, and nothing on the request path costs anything). A user whose
 * assigned policy the config does not define is refused (fail closed) and the log says why.
 */
export function policyOf(
  policies: Policies | null,
  user: User,
  log: Logger,
  ctx: RequestContext,
): Policy | null | ProxyError {
  if (policies === null) return null;
  const policy = policies.forUser(user);
  if (policy instanceof ProxyError) {
    log.warn(
      { requestId: ctx.id, user: user.name, reason: (policy.cause as Error).message },
      "request refused by policy",
    );
  }
  return policy;
}

/**
 * The authorize stage, once the model is known: may this user use this model, now? The
 * allow-list (403 naming the model), then the limits (429: in flight, per minute, per day),
 * whose lease is given back when the response is over with the tokens it used. A policy with
 * `options` rules rewrites the body (read whole for it); every other request keeps its bytes.
 * Admins' model management is not a use of a model: it passes untouched.
 */
export async function authorize(
  policies: Policies,
  policy: Policy | null,
  endpoint: Extract<Endpoint, { kind: "routed" }>,
  body: PeekedBody,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  maxBodyBytes: number,
): Promise<PeekedBody | ProxyError> {
  if (endpoint.op !== "infer" && endpoint.op !== "show") return body;
  const user = ctx.user!;
  if (!policies.allows(policy, body.model)) return policies.refuseModel(user, policy!, body.model);
  const lease = policies.begin(user, policy, Date.now());
  if (lease instanceof ProxyError) return lease;
  if (lease.headers !== null) for (const [k, v] of Object.entries(lease.headers)) res.setHeader(k, v);
  res.once("close", () => lease.end((ctx.usage?.promptTokens ?? 0) + (ctx.usage?.completionTokens ?? 0)));
  if (!policies.rewrites(policy, ctx.path)) return body;
  return rewritten(policies, policy, body, req, ctx, maxBodyBytes);
}

/** The body with the policy's `options` applied: parsed whole, rewritten, sent with its new length. */
async function rewritten(
  policies: Policies,
  policy: Policy | null,
  body: PeekedBody,
  req: IncomingMessage,
  ctx: RequestContext,
  maxBodyBytes: number,
): Promise<PeekedBody | ProxyError> {
  const raw = await wholeBody(req, body, maxBodyBytes);
  if (raw instanceof ProxyError) return raw;
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    return new ProxyError("bad_request", `invalid JSON: ${(err as Error).message}`);
  }
  if (!policies.rewrite(policy, ctx.path, json))
    return { kind: "whole", model: body.model, chunks: [raw], bytes: raw.length };
  const out = Buffer.from(JSON.stringify(json));
  return { kind: "whole", model: body.model, chunks: [out], bytes: out.length };
}
