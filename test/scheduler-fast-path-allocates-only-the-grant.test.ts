import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { systemClock } from "../lib/schedule/clock.js";
import { createScheduler } from "../lib/schedule/scheduler.js";
import type { Grant, Ticket } from "../lib/schedule/types.js";
import { world } from "./fixtures/schedule-world.js";

// SPEC §10: when nothing waits, the scheduler costs nothing measurable. With a free slot (and
// with `parallel` unset, today's behaviour) admit is a few counters and one object — the Grant:
// no promise, no timer, no closure. Measured on the heap, over many admits, in steady state.

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * Heap bytes allocated per admit + release once the code is optimised: the least of three
 * runs (a scavenge during a run only lowers it; the compiler's own objects only raise it).
 */
function bytesPerAdmit(admit: () => Grant, n: number): number {
  for (let i = 0; i < 50_000; i++) admit().release();
  let least = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) admit().release();
    least = Math.min(least, (process.memoryUsage().heapUsed - before) / n);
  }
  return least;
}

for (const parallel of [null, 4] as const) {
  test(`admit with a free slot (parallel ${parallel}) allocates the grant and nothing else`, (t) => {
    const w = world(t, { a: { parallel, loaded: ["llama3:latest"] }, b: { parallel } });
    const ticket: Ticket = { user: "alice", weight: 1, model: "llama3:latest", tiers: w.tiers(["a", "b"]) };
    // The fake clock reads whole milliseconds, which V8 keeps unboxed: what is left is the grant.
    const admit = () => w.sched.admit(ticket) as Grant;
    assert.equal(typeof admit().release, "function");
    const bytes = bytesPerAdmit(admit, 20_000);
    // One SlotGrant: 9 fields of 8 bytes and a 24-byte header (96 bytes), and room for one boxed
    // number (16) that V8 may make of a fair-share reading; a closure, a promise or an array
    // more per admit would not fit.
    assert.ok(bytes <= 112, `${bytes.toFixed(1)} bytes per admit`);
  });

  test(`admit with a free slot (parallel ${parallel}) on the real clock starts nothing asynchronous`, (t) => {
    const w = world(t, { a: { parallel, loaded: ["llama3:latest"] } });
    const sched = createScheduler(w.config, systemClock);
    t.after(() => sched.close());
    const ticket: Ticket = { user: "alice", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
    const admit = () => sched.admit(ticket) as Grant;
    const created: string[] = [];
    const hook = createHook({ init: (_id, type) => created.push(type) });
    hook.enable();
    for (let i = 0; i < 1000; i++) admit().release();
    hook.disable();
    assert.deepEqual(created, [], "no promise, timer or other async resource");
  });
}
