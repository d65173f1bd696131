import assert from "node:assert/strict";
import { test } from "node:test";
import { latency, quantile, Simulation, world } from "./fixtures/schedule-world.js";

// SPEC §10, model affinity, with issue 12's two-model case in virtual time: independent clients
// alternate between two models (one request for each every 250 ms), one model fits in memory,
// 600 ms to load it, 250 ms a request, parallel 2. Straight through (Ollama's own order) nearly
// every request reloads a model; the scheduler serves them in batches.

async function alternate(t: import("node:test").TestContext, parallel: number | null) {
  const w = world(t, { a: { parallel, max_loaded_models: 1 } });
  const sim = new Simulation(w, { numParallel: 2, serviceMs: 250, loadMs: 600, maxLoadedModels: 1 });
  const tiers = w.tiers(["a"]);
  for (let i = 0; i < 40; i++) {
    sim.at(i * 250, `a-client-${i}`, "model-a:latest", tiers);
    sim.at(i * 250 + 125, `b-client-${i}`, "model-b:latest", tiers);
  }
  await w.clock.advance(120_000);
  return { w, sim };
}

test("two models alternating: all 80 served in batches, ≤ 12 model loads, p95 ≤ 5 s", async (t) => {
  const { w, sim } = await alternate(t, 2);
  assert.equal(sim.outcomes.length, 80);
  assert.deepEqual(
    sim.outcomes.filter((o) => o.error !== null).map((o) => o.error?.message),
    [],
  );
  assert.equal(sim.outcomes.filter((o) => o.doneAt !== null).length, 80);
  const loads = sim.gpu("a").loads;
  assert.ok(loads <= 12, `${loads} model loads`);
  // The proxy counts the loads it caused: the same number the GPU saw.
  assert.equal(w.server("a").modelLoads, loads);
  const p95 = quantile(sim.outcomes.map(latency), 0.95);
  assert.ok(p95 <= 5000, `p95 ${p95} ms`);
  // Batches: in grant order, the model changes only as often as the GPU loads one.
  const order = [...sim.outcomes].sort((x, y) => x.grantedAt! - y.grantedAt!).map((o) => o.model);
  const switches = order.filter((m, i) => i > 0 && m !== order[i - 1]).length;
  assert.equal(switches + 1, loads);
});

test("without slots (parallel unset) the same load thrashes: the scheduler is what batches", async (t) => {
  const { sim } = await alternate(t, null);
  assert.ok(sim.gpu("a").loads >= 70, `${sim.gpu("a").loads} model loads`);
  assert.ok(quantile(sim.outcomes.map(latency), 0.95) > 20_000);
});
