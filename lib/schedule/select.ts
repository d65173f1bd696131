/**
 * The two choices the scheduler makes: which server a new ticket goes to, and which waiting
 * ticket a server with a free slot takes next. Both are scans over a handful of servers or the
 * queue; neither allocates.
 */
import type { ServerState } from "../routing/server-state.js";
import type { FairShare } from "./fair-share.js";
import { coldEligibleAt, inFlightOf, isWarm } from "./residency.js";
import type { Entry, WaitQueue } from "./wait-queue.js";

/** Scratch output of a choice, reused so that a choice allocates nothing. */
export interface Outcome {
  /** Earliest time a ticket held back by model affinity becomes eligible (Infinity: none held). */
  heldUntil: number;
  /** Some candidate server is usable at all (else the ticket can never be served). */
  anyUsable: boolean;
}

/** True when `s` may take one more request for `model` (per-model slots, like OLLAMA_NUM_PARALLEL). */
export function hasFreeSlot(s: ServerState, model: string): boolean {
  const parallel = s.config.parallel;
  return parallel === null || inFlightOf(s, model) < parallel;
}

/**
 * The server a ticket goes to now, or null when it must wait. Tier by tier, in the route's
 * order; within a tier the server with fewest requests in flight, one that holds the model on
 * a tie (as `nextCandidate` in lib/routing/table.ts). A server at its `parallel` limit for
 * the model is skipped, and so is one where the request would evict a model still in use
 * before `since + model_affinity_ms` (it waits for that, or for a slot).
 */
export function pickServer(
  tiers: readonly (readonly ServerState[])[],
  model: string,
  tried: ReadonlySet<ServerState> | null,
  since: number,
  now: number,
  affinityMs: number,
  usable: (s: ServerState) => boolean,
  out: Outcome,
): ServerState | null {
  out.heldUntil = Number.POSITIVE_INFINITY;
  out.anyUsable = false;
  for (const tier of tiers) {
    let best: ServerState | null = null;
    let bestWarm = false;
    for (const s of tier) {
      if (!usable(s) || tried?.has(s)) continue;
      out.anyUsable = true;
      if (!hasFreeSlot(s, model)) continue;
      const warm = isWarm(s, model);
      // Without a slot limit nothing waits in the proxy: today's behaviour, affinity included.
      if (!warm && s.config.parallel !== null) {
        const at = coldEligibleAt(s, since, affinityMs);
        if (now < at) {
          if (at < out.heldUntil) out.heldUntil = at;
          continue;
        }
      }
      if (best === null || s.granted < best.granted || (s.granted === best.granted && warm && !bestWarm)) {
        best = s;
        bestWarm = warm;
      }
    }
    if (best !== null) return best;
  }
  return null;
}

/**
 * The waiting ticket `s` takes next, or null. Among the tickets that may use `s` and for whose
 * model it has a free slot:
 * - tickets for models `s` holds come first, and so do tickets whose load evicts nothing;
 * - a ticket whose load would evict a model in use waits for model affinity (residency.ts);
 *   once it is eligible it goes before them all — unless a ticket for a held model is older
 *   still: among requests that waited that long, the oldest goes first, so a server that has
 *   just switched drains what waited for it before it switches back.
 * Within a class, fair share decides (the user with the least recent use per weight), then
 * fewer requests in flight, then arrival. Tickets held back by affinity report when they
 * become eligible in `out.heldUntil`.
 */
export function nextFor(
  s: ServerState,
  queue: WaitQueue,
  now: number,
  affinityMs: number,
  fair: FairShare,
  out: Outcome,
): Entry | null {
  const limited = s.config.parallel !== null;
  let switcher: Entry | null = null;
  let olderWarm = false;
  let warm: Entry | null = null;
  let warmScore = 0;
  let cold: Entry | null = null;
  let coldScore = 0;
  for (let e = queue.head; e !== null; e = e.next) {
    const model = e.ticket.model;
    if (!e.mayUse(s)) continue;
    const held = !limited || isWarm(s, model);
    // Waiting for this server's held model counts even while that model's slots are full.
    if (held && switcher === null) olderWarm = true;
    if (!hasFreeSlot(s, model)) continue;
    if (held) {
      const score = fair.score(e.share, now);
      if (warm === null || before(e, score, warm, warmScore)) {
        warm = e;
        warmScore = score;
      }
      continue;
    }
    const at = coldEligibleAt(s, e.admittedAt, affinityMs);
    if (now < at) {
      if (at < out.heldUntil) out.heldUntil = at;
    } else if (at !== Number.NEGATIVE_INFINITY) {
      // The queue is in arrival order: the first eligible one is the oldest.
      switcher ??= e;
    } else {
      const score = fair.score(e.share, now);
      if (cold === null || before(e, score, cold, coldScore)) {
        cold = e;
        coldScore = score;
      }
    }
  }
  if (switcher !== null && !olderWarm) return switcher;
  return warm ?? cold ?? switcher;
}

/** Fair-share order: less recent use per weight, then fewer in flight; `b` came first on a tie. */
function before(a: Entry, aScore: number, b: Entry, bScore: number): boolean {
  if (aScore !== bScore) return aScore < bScore;
  return a.share.inFlight < b.share.inFlight;
}
