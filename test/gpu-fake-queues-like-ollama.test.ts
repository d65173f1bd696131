import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "./fixtures/fake-clock.js";
import { Gpu, type Job } from "./fixtures/gpu.js";

// The GPU model behind the scheduler's tests and the bench (test/fixtures/gpu.ts) must queue
// like Ollama's scheduler (server/sched.go): per-model slots (OLLAMA_NUM_PARALLEL), a bounded
// number of models in memory, a load per switch, strict arrival order, a bounded queue.

function record(gpu: Gpu, clock: FakeClock, model: string, log: string[]): Job | null {
  return gpu.submit(model, {
    start: () => log.push(`${clock.now()} start ${model}`),
    done: (outcome) => log.push(`${clock.now()} ${outcome} ${model}`),
  });
}

test("strict arrival order: a request whose model must load blocks the ones behind it", async () => {
  const clock = new FakeClock();
  const gpu = new Gpu({ numParallel: 2, maxLoadedModels: 1, loadMs: 600, serviceMs: 250 }, clock, ["a"]);
  const log: string[] = [];
  record(gpu, clock, "a", log);
  record(gpu, clock, "a", log);
  record(gpu, clock, "b", log);
  // Model a is loaded and has a free slot after 250 ms, but b came first: a waits behind it.
  record(gpu, clock, "a", log);
  await clock.advance(5000);
  assert.deepEqual(log, [
    "0 start a",
    "0 start a",
    "250 ok a",
    "250 ok a",
    // a unloaded, b loaded (600 ms), b runs; then b unloaded, a loaded again.
    "850 start b",
    "1100 ok b",
    "1700 start a",
    "1950 ok a",
  ]);
  assert.equal(gpu.loads, 2);
  assert.equal(gpu.busyMs, 4 * 250);
  assert.deepEqual(gpu.loaded(), ["a"]);
});

test("per-model slots: a third request for a loaded model waits for a slot", async () => {
  const clock = new FakeClock();
  const gpu = new Gpu({ numParallel: 2, serviceMs: 100 }, clock, ["a"]);
  const log: string[] = [];
  for (let i = 0; i < 3; i++) record(gpu, clock, "a", log);
  assert.equal(gpu.running(), 2);
  assert.equal(gpu.waiting(), 1);
  await clock.advance(1000);
  assert.deepEqual(
    log.filter((l) => l.includes("start")),
    ["0 start a", "0 start a", "100 start a"],
  );
});

test("its own max queue: one more waiting request is refused", () => {
  const clock = new FakeClock();
  const gpu = new Gpu({ numParallel: 1, maxQueue: 2 }, clock, ["a"]);
  const log: string[] = [];
  assert.notEqual(record(gpu, clock, "a", log), null);
  assert.notEqual(record(gpu, clock, "a", log), null);
  assert.notEqual(record(gpu, clock, "a", log), null);
  assert.equal(record(gpu, clock, "a", log), null);
  assert.equal(gpu.refused, 1);
  assert.equal(gpu.received, 3);
});

test("a cancelled request: waiting, it never runs; running, it frees its slot", async () => {
  const clock = new FakeClock();
  const gpu = new Gpu({ numParallel: 1, serviceMs: 100 }, clock, ["a"]);
  const log: string[] = [];
  const running = record(gpu, clock, "a", log)!;
  const waiting = record(gpu, clock, "a", log)!;
  record(gpu, clock, "a", log);
  gpu.cancel(waiting);
  await clock.advance(30);
  gpu.cancel(running);
  await clock.advance(1000);
  assert.deepEqual(log, ["0 start a", "0 cancelled a", "30 cancelled a", "30 start a", "130 ok a"]);
  assert.equal(gpu.cancelledPending, 1);
  assert.equal(gpu.cancelledRunning, 1);
  assert.equal(gpu.served, 1);
});
