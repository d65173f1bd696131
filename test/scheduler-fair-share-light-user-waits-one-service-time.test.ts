import assert from "node:assert/strict";
import { test } from "node:test";
import { latency, quantile, Simulation, world } from "./fixtures/schedule-world.js";

// SPEC §10, fair share: one user with 16 requests in flight must not make another user's single
// request wait for more than about one service time. Issue 12's case, in virtual time: parallel 2,
// 250 ms requests, the light user sends one every 500 ms; the GPU behaves like Ollama's queue.

const MODEL = "llama3:latest";

test("a light user's requests wait at most one service time behind a user holding 16 in flight", async (t) => {
  const w = world(t, { a: { parallel: 2, max_loaded_models: 1, loaded: [MODEL] } });
  const sim = new Simulation(w, { numParallel: 2, serviceMs: 250, loadMs: 600, maxLoadedModels: 1 });
  const tiers = w.tiers(["a"]);
  for (let i = 0; i < 16; i++) void sim.loop("heavy", MODEL, tiers, 20_000);
  // Off the heavy user's 250 ms beat, so that the light requests do have to wait for a slot.
  for (let at = 1137; at < 20_000; at += 500) sim.at(at, "light", MODEL, tiers);
  await w.clock.advance(25_000);

  const light = sim.outcomes.filter((o) => o.user === "light");
  assert.equal(light.length, 38);
  assert.deepEqual(
    light.filter((o) => o.error !== null || o.doneAt === null),
    [],
    "every light request is served",
  );
  const ms = light.map(latency);
  // One service time of waiting at most (both slots just taken), then its own 250 ms.
  assert.ok(quantile(ms, 0.95) <= 650, `light p95 ${quantile(ms, 0.95)} ms`);
  assert.ok(Math.max(...ms) <= 500, `light max ${Math.max(...ms)} ms`);
  // The heavy user keeps the GPU full: both slots busy for (nearly) the whole run.
  const end = Math.max(...sim.outcomes.map((o) => o.doneAt ?? 0));
  const busy = sim.gpu("a").busyMs / (2 * end);
  assert.ok(busy >= 0.9, `GPU busy ${(busy * 100).toFixed(1)} %`);
  // 40 slot-seconds, 9.5 of them the light user's: the rest is the heavy user's.
  const heavy = sim.outcomes.filter((o) => o.user === "heavy" && o.doneAt !== null).length;
  assert.ok(heavy >= 115, `heavy served ${heavy}`);
});

test("two heavy users with equal weight get equal shares of a saturated server", async (t) => {
  const w = world(t, { a: { parallel: 2, loaded: [MODEL] } });
  const sim = new Simulation(w, { numParallel: 2, serviceMs: 250 });
  const tiers = w.tiers(["a"]);
  // One user keeps 12 in flight, the other 4: the number in flight buys nothing.
  for (let i = 0; i < 12; i++) void sim.loop("many", MODEL, tiers, 20_000);
  for (let i = 0; i < 4; i++) void sim.loop("few", MODEL, tiers, 20_000);
  await w.clock.advance(25_000);
  const served = (user: string) => sim.outcomes.filter((o) => o.user === user && o.doneAt !== null).length;
  const many = served("many");
  const few = served("few");
  assert.ok(Math.abs(many - few) <= 0.1 * (many + few), `served: many ${many}, few ${few}`);
});

test("weights divide use: a user of weight 3 gets three times the slots of a user of weight 1", async (t) => {
  const w = world(t, { a: { parallel: 2, loaded: [MODEL] } });
  const sim = new Simulation(w, { numParallel: 2, serviceMs: 250 });
  sim.weights.set("interactive", 3);
  // A weight that is not a positive number counts as 1.
  sim.weights.set("batch", Number.NaN);
  const tiers = w.tiers(["a"]);
  for (let i = 0; i < 8; i++) void sim.loop("interactive", MODEL, tiers, 30_000);
  for (let i = 0; i < 8; i++) void sim.loop("batch", MODEL, tiers, 30_000);
  await w.clock.advance(35_000);
  const served = (user: string) => sim.outcomes.filter((o) => o.user === user && o.doneAt !== null).length;
  const ratio = served("interactive") / served("batch");
  assert.ok(ratio > 2.6 && ratio < 3.4, `served ${served("interactive")} vs ${served("batch")}`);
});
