import type { ServerResponse } from "node:http";
import type { RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import { normalizeModel } from "../model-name.js";
import { isGrant } from "../schedule/scheduler.js";
import type { Grant, Scheduler } from "../schedule/types.js";
import type { Endpoint } from "./endpoints.js";
import type { Target } from "./route.js";

/**
 * The admit stage: a request for a GPU waits here, in the proxy, for a slot on one of its
 * target's servers (`servers.NAME.parallel`), and the scheduler picks who goes next — fair
 * share between users, model affinity, a bounded queue (lib/schedule). Only inference on
 * Ollama servers is scheduled (null: the request goes straight on); the pipeline skips the
 * stage altogether when no server has `parallel`. A client that leaves while waiting leaves the queue
 * at once: its request never reaches a server.
 */
export async function admit(
  scheduler: Scheduler,
  endpoint: Extract<Endpoint, { kind: "routed" }>,
  target: Target,
  model: string,
  weight: number,
  res: ServerResponse,
  ctx: RequestContext,
): Promise<Grant | null | ProxyError> {
  if (target.kind !== "ollama" || endpoint.op !== "infer") return null;
  const admission = scheduler.admit({
    user: ctx.user?.name ?? "",
    weight,
    model: normalizeModel(model),
    tiers: target.tiers,
  });
  if (admission instanceof ProxyError) return admission;
  const granted = isGrant(admission) ? admission : await waitFor(admission, res);
  if (granted instanceof ProxyError) return granted;
  ctx.queueMs = granted.queuedMs;
  res.setHeader("server-timing", `queue;dur=${Math.round(granted.queuedMs)}`);
  return granted;
}

/** Waits for the grant; the client leaving cancels the ticket (the promise then never settles). */
async function waitFor(
  waiting: Exclude<ReturnType<Scheduler["admit"]>, Grant | ProxyError>,
  res: ServerResponse,
): Promise<Grant | ProxyError> {
  const cancel = () => waiting.cancel();
  res.once("close", cancel);
  const outcome = await waiting.promise;
  res.off("close", cancel);
  return outcome;
}
