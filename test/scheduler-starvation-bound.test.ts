import assert from "node:assert/strict";
import { test } from "node:test";
import { Simulation, world } from "./fixtures/schedule-world.js";

// SPEC §10: "No request starves." A request that needs another model loaded waits for model
// affinity, never longer than scheduler.model_affinity_ms plus one service time, even while the
// loaded model has a queue of its own.

test("a request for another model goes within model_affinity_ms + one service time of a busy model", async (t) => {
  const w = world(
    t,
    { a: { parallel: 2, max_loaded_models: 1, loaded: ["busy:latest"] } },
    { model_affinity_ms: 2000 },
  );
  const sim = new Simulation(w, { numParallel: 2, serviceMs: 250, loadMs: 600, maxLoadedModels: 1 });
  const tiers = w.tiers(["a"]);
  // Eight clients keep the loaded model's slots full and a queue in front of them.
  for (let i = 0; i < 8; i++) void sim.loop(`busy-${i}`, "busy:latest", tiers, 15_000);
  sim.at(3_000, "other", "other:latest", tiers);
  await w.clock.advance(20_000);

  const other = sim.outcomes.find((o) => o.user === "other")!;
  assert.equal(other.error, null);
  const waited = other.grantedAt! - other.arrivedAt;
  assert.ok(waited >= 2000, `it waited for affinity (${waited} ms): the loaded model went first`);
  assert.ok(waited <= 2000 + 250, `granted ${waited} ms after arrival`);
  // Then: the busy model's running requests finish, the other model loads, and it runs.
  assert.ok(
    other.doneAt! - other.arrivedAt <= 2000 + 250 + 600 + 250,
    `done after ${other.doneAt! - other.arrivedAt} ms`,
  );
  assert.equal(other.queuedMs, waited);
});

test("on an idle server the load goes at once: affinity only holds while the loaded model is in use", async (t) => {
  const w = world(t, { a: { parallel: 2, max_loaded_models: 1, loaded: ["old:latest"] } });
  const a = w.sched.admit({ user: "u", weight: 1, model: "new:latest", tiers: w.tiers(["a"]) });
  assert.ok("release" in a, "granted at once");
  assert.equal(a.queuedMs, 0);
  assert.equal(w.server("a").modelLoads, 1);
});

test("a model the server just used keeps it for model_affinity_ms after its last request", async (t) => {
  const w = world(t, { a: { parallel: 2, max_loaded_models: 1, loaded: ["old:latest"] } });
  const tiers = w.tiers(["a"]);
  const first = w.sched.admit({ user: "u", weight: 1, model: "old:latest", tiers });
  assert.ok("release" in first);
  await w.clock.advance(100);
  first.release();
  await w.clock.advance(500);
  const a = w.sched.admit({ user: "v", weight: 1, model: "new:latest", tiers });
  assert.ok("promise" in a, "waits: old:latest was used 500 ms ago");
  let grantedAt: number | null = null;
  void a.promise.then(() => {
    grantedAt = w.clock.now();
  });
  await w.clock.advance(3000);
  // Idle since 100 ms: eligible at 100 + 2000.
  assert.equal(grantedAt, 2100);
});
