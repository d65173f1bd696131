import assert from "node:assert/strict";
import { test } from "node:test";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import { psEntry, world } from "./fixtures/schedule-world.js";

// SPEC §10, visible: what /health, /metrics and `route` will show — per server in flight per
// model and waiting; overall waiting and oldest wait; model loads; the wait-time histogram.

test("the snapshot counts slots, the queue, model loads and waits", async (t) => {
  const w = world(t, { a: { parallel: 1, max_loaded_models: 2, loaded: ["one:latest"] }, b: {} });
  const on = (model: string, keys: string[]) => ({ user: "u", weight: 1, model, tiers: w.tiers(keys) });
  const one = w.sched.admit(on("one:latest", ["a"]));
  const two = w.sched.admit(on("two:latest", ["a"]));
  assert.ok(isGrant(one) && isGrant(two));
  const fast = w.sched.admit(on("one:latest", ["b"]));
  assert.ok(isGrant(fast));
  const waiting = w.sched.admit(on("one:latest", ["a"]));
  assert.ok(isWaiting(waiting));
  await w.clock.advance(700);

  const snap = w.sched.snapshot();
  assert.equal(snap.waiting, 1);
  assert.equal(snap.oldestWaitMs, 700);
  assert.deepEqual(snap.waitingByModel, { "one:latest": 1 });
  const a = snap.servers.find((s) => s.key === "a");
  assert.deepEqual(a, {
    key: "a",
    parallel: 1,
    maxLoadedModels: 2,
    inFlight: 2,
    inFlightByModel: { "one:latest": 1, "two:latest": 1 },
    waiting: 1,
    resident: ["one:latest", "two:latest"],
    // two:latest was not loaded: the proxy made a load it; one:latest was in /api/ps.
    modelLoads: 1,
  });
  const b = snap.servers.find((s) => s.key === "b");
  assert.equal(b?.parallel, null);
  assert.equal(b?.modelLoads, 1);
  assert.equal(snap.totals.modelLoads, 2);

  one.release();
  const got = await waiting.promise;
  assert.ok(isGrant(got));
  const after = w.sched.snapshot();
  assert.equal(after.waiting, 0);
  assert.equal(after.oldestWaitMs, 0);
  assert.deepEqual(after.totals, {
    granted: 4,
    queued: 1,
    queueFull: 0,
    waitTimeouts: 0,
    cancelled: 0,
    serverGone: 0,
    modelLoads: 2,
  });
  // Three went straight through (le 0), one waited 700 ms (le 1000).
  const h = after.waits;
  assert.equal(h.count, 4);
  assert.equal(h.sumMs, 700);
  const upTo = (ms: number) => h.cumulative[h.boundsMs.indexOf(ms)];
  assert.equal(upTo(0), 3);
  assert.equal(upTo(500), 3);
  assert.equal(upTo(1000), 4);
});

test("a model /api/ps stops listing is no longer counted as held", async (t) => {
  const w = world(t, { a: { parallel: 2, loaded: ["one:latest"] } });
  assert.deepEqual(w.sched.snapshot([w.server("a")]).servers[0]?.resident, ["one:latest"]);
  w.server("a").loaded = new Map([psEntry("two:latest")]);
  assert.deepEqual(w.sched.snapshot([w.server("a")]).servers[0]?.resident, ["two:latest"]);
});
