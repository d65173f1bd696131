/**
 * Which models a server holds, as the proxy can tell, and what sending it a request costs.
 *
 * Two sources: the pollers' /api/ps (the truth, up to one poll interval old) and what the proxy
 * itself just sent (fresher: a model being loaded is not in /api/ps yet). A request for a model
 * the server does not hold makes it load that model; when the server is full
 * (`servers.NAME.max_loaded_models`), the load evicts the least recently used one, as Ollama
 * does once that model's running requests are over.
 */
import type { ModelSlot, ServerState } from "../routing/server-state.js";

/** The slot record of `model` on `s`, created when first needed (the server's /api/ps is folded in first). */
export function slotOf(s: ServerState, model: string): ModelSlot {
  if (s.loaded !== s.slotsSyncedWith) sync(s);
  let slot = s.slots.get(model);
  if (slot === undefined) {
    slot = {
      model,
      inFlight: 0,
      resident: false,
      lastSentAt: Number.NEGATIVE_INFINITY,
      residentSince: Number.NEGATIVE_INFINITY,
      idleSince: Number.NEGATIVE_INFINITY,
    };
    s.slots.set(model, slot);
  }
  return slot;
}

/** True when `s` holds `model` now: a request for it needs no load. */
export function isWarm(s: ServerState, model: string): boolean {
  if (s.loaded !== s.slotsSyncedWith) sync(s);
  return s.slots.get(model)?.resident === true;
}

/** Requests for `model` granted on `s` and not over. */
export function inFlightOf(s: ServerState, model: string): number {
  return s.slots.get(model)?.inFlight ?? 0;
}

/**
 * The model a load of another one would evict from `s`, or null when the server has room (or
 * its capacity is not configured). Like Ollama, an idle model goes before a busy one; among
 * equals, the least recently sent.
 */
export function evictionVictim(s: ServerState): ModelSlot | null {
  const max = s.config.maxLoadedModels;
  if (max === null) return null;
  let count = 0;
  let victim: ModelSlot | null = null;
  for (const slot of s.slots.values()) {
    if (!slot.resident) continue;
    count++;
    if (victim === null || lessUseful(slot, victim)) victim = slot;
  }
  return count >= max ? victim : null;
}

/**
 * When a request that arrived at `since` may make `s` load a model it does not hold: at once if
 * nothing would be evicted; else once the model to be evicted has had no request for
 * `affinityMs`, or the request itself has waited that long, whichever comes first. This is the
 * model-affinity rule: a loaded model keeps its server while it is in use, never longer than
 * `affinityMs` against a waiting request, so nothing starves.
 */
export function coldEligibleAt(s: ServerState, since: number, affinityMs: number): number {
  const victim = evictionVictim(s);
  if (victim === null) return Number.NEGATIVE_INFINITY;
  // A model the proxy just made the server load keeps it for affinityMs too: else two models
  // with old requests waiting would take turns at every free slot.
  const claim = Math.max(since, victim.residentSince);
  return (victim.inFlight > 0 ? claim : Math.min(claim, victim.idleSince)) + affinityMs;
}

/** A request for `slot`'s model was sent to `s`: counts a load when the server did not hold it. */
export function noteGrant(s: ServerState, slot: ModelSlot, now: number): void {
  if (!slot.resident) {
    s.modelLoads++;
    slot.resident = true;
    slot.lastSentAt = now;
    // Loading: its claim on the server starts when the load is known to be done (its first answer).
    slot.residentSince = Number.POSITIVE_INFINITY;
    capResident(s, slot);
  }
  slot.inFlight++;
  slot.lastSentAt = now;
  s.granted++;
}

/** A request for `slot`'s model on `s` is over. */
export function noteRelease(s: ServerState, slot: ModelSlot, now: number): void {
  slot.inFlight--;
  s.granted--;
  if (slot.residentSince === Number.POSITIVE_INFINITY) slot.residentSince = now;
  if (slot.inFlight === 0) {
    slot.idleSince = now;
    // Only models the server holds are remembered: junk model names cannot grow the map.
    if (!slot.resident && s.slots.get(slot.model) === slot) s.slots.delete(slot.model);
  }
}

/**
 * Folds a new /api/ps answer into the proxy's view: models it lists are held; models it no
 * longer lists and that have nothing in flight were unloaded. Models still loading are not
 * listed yet, and a poll may predate the proxy's last switch, so when the answer and what was
 * sent since disagree beyond `max_loaded_models`, the most recently sent models win.
 */
function sync(s: ServerState): void {
  const ps = s.loaded;
  s.slotsSyncedWith = ps;
  for (const name of ps.keys()) {
    const slot = s.slots.get(name);
    if (slot === undefined) {
      s.slots.set(name, {
        model: name,
        inFlight: 0,
        resident: true,
        lastSentAt: Number.NEGATIVE_INFINITY,
        residentSince: Number.NEGATIVE_INFINITY,
        idleSince: Number.NEGATIVE_INFINITY,
      });
    } else {
      slot.resident = true;
    }
  }
  for (const slot of s.slots.values()) {
    if (slot.resident && slot.inFlight === 0 && !ps.has(slot.model)) slot.resident = false;
  }
  capResident(s, null);
  for (const [name, slot] of s.slots) if (!slot.resident && slot.inFlight === 0) s.slots.delete(name);
}

/** Drops the least recently sent models until at most `max_loaded_models` are held; `keep` stays. */
function capResident(s: ServerState, keep: ModelSlot | null): void {
  const max = s.config.maxLoadedModels;
  if (max === null) return;
  for (;;) {
    let count = 0;
    let oldest: ModelSlot | null = null;
    for (const slot of s.slots.values()) {
      if (!slot.resident) continue;
      count++;
      if (slot !== keep && (oldest === null || slot.lastSentAt < oldest.lastSentAt)) oldest = slot;
    }
    if (count <= max || oldest === null) return;
    oldest.resident = false;
  }
}

/** Ollama unloads an idle runner before a busy one; then the least recently used. */
function lessUseful(a: ModelSlot, b: ModelSlot): boolean {
  if ((a.inFlight === 0) !== (b.inFlight === 0)) return a.inFlight === 0;
  return a.lastSentAt < b.lastSentAt;
}
