import type { Config } from "../config/types.js";
import { normalizeModel } from "../model-name.js";
import type { Fleet } from "./fleet.js";
import type { ServerState } from "./server-state.js";
import { nextCandidate } from "./table.js";

/** One server's part in a routing decision. */
export interface Verdict {
  readonly server: string;
  readonly chosen: boolean;
  /** Rank among candidates (1 = first choice), or null when it is not a candidate. */
  readonly rank: number | null;
  readonly why: string;
}

export interface Explanation {
  readonly model: string;
  readonly target: string | null;
  readonly summary: string;
  readonly verdicts: readonly Verdict[];
}

/** Says where a model would go now and why every other server would not get it. */
export function explainRoute(config: Config, fleet: Fleet, model: string): Explanation {
  const key = normalizeModel(model);
  const table = fleet.table();
  const route = table.route(model);
  const verdicts: Verdict[] = [];
  const live = new Map(fleet.servers().map((s) => [s.key, s]));

  if (route.kind === "external") {
    const summary = route.hostUsable
      ? `${key} is assigned to external host ${route.host.key} (${route.host.type})`
      : `${key} is assigned to external host ${route.host.key}, which is not usable`;
    return { model: key, target: route.hostUsable ? route.host.key : null, summary, verdicts: [] };
  }

  const order: string[] = [];
  if (route.kind === "ollama") {
    const tried = new Set<ServerState>();
    for (;;) {
      const next = nextCandidate(route.tiers, tried);
      if (next === null) break;
      tried.add(next);
      order.push(next.key);
    }
  }
  const need = table.memoryNeed(key);
  // Any enabled server, up or down: a model on a down server exists all the same.
  const anyHas = fleet.servers().some((s) => s.models.has(key));
  const first = order[0] ?? null;
  const firstState = first === null ? undefined : live.get(first);

  for (const sc of config.servers) {
    const s = live.get(sc.key);
    const rank = order.indexOf(sc.key);
    let why: string;
    if (!sc.enabled || s === undefined) why = "disabled in the config";
    else if (s.health === "down") why = `down (${s.downReason ?? "unknown reason"})${downDetail(s, key)}`;
    else if (route.kind === "ollama" && route.explicit && rank === -1)
      why = `${key} is explicitly assigned to another server`;
    else if (sc.maxMemoryGb !== null && sc.maxMemoryGb < need.gb)
      why = `too small: max_memory_gb ${sc.maxMemoryGb} < ${Math.round(need.gb * 10) / 10} GB needed`;
    else if (rank === -1 && !s.models.has(key))
      why = anyHas ? "does not have the model (other servers do)" : "does not have the model";
    else if (rank === 0) {
      const parts = [`priority ${sc.priority}`];
      if (s.models.has(key)) parts.push("has the model");
      else parts.push("admits it by memory (no server has it; Ollama will answer or pull)");
      if (s.loaded.has(key)) parts.push("model loaded");
      parts.push(`${s.inFlight} in flight`);
      if (s.isSlow(config.health.slowThresholdMs)) parts.push("slow, but the best left");
      why = parts.join(", ");
    } else if (rank > 0 && firstState !== undefined) {
      if (s.isSlow(config.health.slowThresholdMs) && !firstState.isSlow(config.health.slowThresholdMs))
        why = `slow (${Math.round(s.latencyMs ?? 0)} ms)`;
      else if (sc.priority > firstState.config.priority)
        why = `lower priority (${sc.priority} > ${firstState.config.priority})`;
      else if (firstState.loaded.has(key) && !s.loaded.has(key))
        why = `model not loaded here (it is on ${first})`;
      else why = `busier or tied (${s.inFlight} in flight vs ${firstState.inFlight})`;
      why = `fallback #${rank + 1}: ${why}`;
    } else why = "not a candidate";
    verdicts.push({ server: sc.key, chosen: rank === 0, rank: rank === -1 ? null : rank + 1, why });
  }

  const summary =
    route.kind === "error" || route.kind === "unavailable"
      ? route.error.message
      : `${key} → ${first} (needs ${Math.round(need.gb * 10) / 10} GB, from ${need.from})`;
  return { model: key, target: first, summary, verdicts };
}

/** What a down server's last-known model list says about the model. */
function downDetail(s: ServerState, key: string): string {
  if (s.modelsAt === 0) return "; its model list is unknown";
  return s.models.has(key) ? "; it has the model" : "";
}
