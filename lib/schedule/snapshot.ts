/** The scheduler's state in numbers, for /health, /metrics and `route` (computed on demand, never on the request path). */
import type { ServerState } from "../routing/server-state.js";
import type { WaitTimes } from "./histogram.js";
import { isWarm } from "./residency.js";
import type { SchedulerSnapshot, ServerSchedule } from "./types.js";
import type { WaitQueue } from "./wait-queue.js";

/** Builds a snapshot of `servers` and the queue at `now`. */
export function describe(
  servers: readonly ServerState[],
  queue: WaitQueue,
  now: number,
  waits: WaitTimes,
  totals: Omit<SchedulerSnapshot["totals"], "modelLoads">,
): SchedulerSnapshot {
  const waitingByModel: Record<string, number> = {};
  for (let e = queue.head; e !== null; e = e.next) {
    const m = e.ticket.model;
    waitingByModel[m] = (waitingByModel[m] ?? 0) + 1;
  }
  const list = servers.map((s) => describeServer(s, queue));
  return {
    waiting: queue.size,
    oldestWaitMs: queue.head === null ? 0 : Math.max(0, now - queue.head.admittedAt),
    waitingByModel,
    servers: list,
    waits: waits.snapshot(),
    totals: { ...totals, modelLoads: list.reduce((sum, s) => sum + s.modelLoads, 0) },
  };
}

function describeServer(s: ServerState, queue: WaitQueue): ServerSchedule {
  const inFlightByModel: Record<string, number> = {};
  const resident: string[] = [];
  // isWarm folds the latest /api/ps answer in first.
  for (const model of [...s.slots.keys(), ...s.loaded.keys()]) {
    if (isWarm(s, model) && !resident.includes(model)) resident.push(model);
  }
  for (const slot of s.slots.values()) if (slot.inFlight > 0) inFlightByModel[slot.model] = slot.inFlight;
  let waiting = 0;
  for (let e = queue.head; e !== null; e = e.next) if (e.mayUse(s)) waiting++;
  return {
    key: s.key,
    parallel: s.config.parallel,
    maxLoadedModels: s.config.maxLoadedModels,
    inFlight: s.granted,
    inFlightByModel,
    waiting,
    resident: resident.sort(),
    modelLoads: s.modelLoads,
  };
}
